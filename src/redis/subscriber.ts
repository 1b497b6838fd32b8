import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { RedisBackend } from './connection.js';

/**
 * PSUBSCRIBE to keyspace notifications on a connection of its own (a subscribed connection can
 * run no other command). Cluster delivers keyspace events only on the node that owns the key,
 * so there is one subscriber per master, reconciled whenever the topology changes.
 */
export interface KeyspaceSubscriber {
  start(): void;
  /** true when every subscriber connection is connected and subscribed */
  isReady(): boolean;
  /** resolves true when `event` arrives for `key` within `timeoutMs` (notification probes) */
  expect(key: string, event: string, timeoutMs: number): Promise<boolean>;
  /** re-reads the set of masters (Cluster topology change) */
  reconcile(): void;
  close(): Promise<void>;
}

export interface SubscriberOptions {
  backend: RedisBackend;
  /** key patterns (already glob-escaped) */
  patterns: readonly string[];
  onEvent(key: string, event: string): void;
  /** a subscriber became ready (first time or after a reconnect): notifications may have been missed */
  onReady(): void;
  /** a subscriber lost its connection or was refused (detail says why) */
  onDown(detail: string): void;
  logger: Logger;
}

const RETRY_MS = 2000;

interface Waiter {
  event: string;
  resolve(ok: boolean): void;
}

function nodeId(node: Redis): string {
  return `${node.options.host ?? ''}:${node.options.port ?? ''}`;
}

export function createKeyspaceSubscriber(options: SubscriberOptions): KeyspaceSubscriber {
  const { backend, logger } = options;
  const channelHead = `__keyspace@${backend.db}__:`;
  const channels = options.patterns.map((pattern) => channelHead + pattern);
  const connections = new Map<string, Redis>();
  const subscribed = new Set<Redis>();
  const waiters = new Map<string, Waiter[]>();
  let closed = false;
  let lastRefusalLog = 0;

  const onMessage = (_pattern: string, channel: string, event: string): void => {
    if (!channel.startsWith(channelHead)) return;
    const key = channel.slice(channelHead.length);
    const pending = waiters.get(key);
    if (pending) {
      for (const waiter of pending.filter((w) => w.event === event)) waiter.resolve(true);
    }
    try {
      options.onEvent(key, event);
    } catch (error) {
      logger.error({ err: error }, 'keyspace notification handler failed');
    }
  };

  const open = (id: string, node?: Redis): void => {
    const sub = backend.createSubscriber(node);
    connections.set(id, sub);
    sub.on('error', (error: Error) => logger.debug({ err: error.message }, 'subscriber connection error'));
    sub.on('pmessage', onMessage);
    const subscribe = (): void => {
      if (closed || connections.get(id) !== sub || sub.status !== 'ready') return;
      sub.psubscribe(...channels).then(
        () => {
          if (closed || connections.get(id) !== sub) return;
          subscribed.add(sub);
          options.onReady();
        },
        (error: unknown) => {
          // e.g. NOPERM: the ACL lacks the channel patterns (docs/redis.md); the operator may fix it live
          const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 160);
          if (Date.now() - lastRefusalLog > 30_000) {
            lastRefusalLog = Date.now();
            logger.error({ err: message, channels }, 'PSUBSCRIBE to keyspace notifications refused; retrying');
          }
          options.onDown(`PSUBSCRIBE to ${channels.join(' ')} refused: ${message}`);
          setTimeout(subscribe, RETRY_MS).unref();
        },
      );
    };
    sub.on('ready', subscribe);
    sub.on('close', () => {
      if (subscribed.delete(sub)) options.onDown('the keyspace subscriber lost its connection');
    });
    sub.connect().catch(() => undefined);
  };

  const reconcile = (): void => {
    if (closed) return;
    if (backend.target.mode !== 'cluster') {
      if (!connections.has('main')) open('main');
      return;
    }
    const masters = new Map(backend.masters().map((node) => [nodeId(node), node] as const));
    let changed = false;
    for (const [id, sub] of connections) {
      if (masters.has(id)) continue;
      connections.delete(id);
      subscribed.delete(sub);
      sub.disconnect();
      changed = true;
    }
    for (const [id, node] of masters) {
      if (connections.has(id)) continue;
      open(id, node);
      changed = true;
    }
    if (changed) logger.info({ masters: [...masters.keys()] }, 'keyspace subscribers follow the cluster masters');
  };

  return {
    start: reconcile,
    reconcile,
    isReady: () => connections.size > 0 && [...connections.values()].every((sub) => subscribed.has(sub)),
    expect(key, event, timeoutMs) {
      return new Promise<boolean>((resolve) => {
        const list = waiters.get(key) ?? [];
        waiters.set(key, list);
        const waiter: Waiter = {
          event,
          resolve: (ok) => {
            clearTimeout(timer);
            const remaining = (waiters.get(key) ?? []).filter((w) => w !== waiter);
            if (remaining.length === 0) waiters.delete(key);
            else waiters.set(key, remaining);
            resolve(ok);
          },
        };
        const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
        list.push(waiter);
      });
    },
    async close() {
      closed = true;
      for (const list of waiters.values()) for (const waiter of [...list]) waiter.resolve(false);
      const all = [...connections.values()];
      connections.clear();
      subscribed.clear();
      await Promise.all(
        all.map(async (sub) => {
          try {
            if (sub.status === 'ready') await sub.quit();
            else sub.disconnect();
          } catch {
            sub.disconnect();
          }
        }),
      );
    },
  };
}
