import { randomToken } from '../lib/random.js';
import { isCluster, type RedisConnection } from '../redis/connection.js';
import { errorText, type StoreContext } from './redis-context.js';
import { ensureKeyspaceEvents } from '../redis/keyspace.js';
import type { Removals } from './redis-removals.js';
import type { Restorer } from './redis-restore.js';
import type { KeyspaceSubscriber } from '../redis/subscriber.js';
import type { Sync } from './redis-sync.js';
import type { StoreStatus } from './store.js';

/**
 * Brings the store up, and back up after every reconnect: keyspace notifications on (or a clear
 * reason why not), queued deletions written, then a full resync. Until all of that is done the
 * store reports `up: false` while its mirror keeps serving.
 */
export interface Recovery {
  /** resolves the first time the store is up; rejects if it is closed before */
  ready(): Promise<void>;
  /** something changed (a connection became ready, a deletion was queued): run a pass */
  kick(): void;
  /** a connection dropped */
  down(detail: string): void;
  status(): StoreStatus;
  close(): void;
}

export interface RecoveryOptions {
  ctx: StoreContext;
  subscriber: KeyspaceSubscriber;
  sync: Sync;
  removals: Removals;
  restorer: Restorer;
  configureKeyspaceEvents: boolean;
  probeTimeoutMs?: number;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
const CONFIG_RETRY_MS = 5000;
const LOUD_LOG_EVERY_MS = 30_000;

export function createRecovery(options: RecoveryOptions): Recovery {
  const { ctx, subscriber, sync, removals, restorer } = options;
  const { backend, logger } = ctx;
  let up = false;
  let detail = 'connecting to Redis';
  let closed = false;
  let running = false;
  let again = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;
  let restorePending = false;
  let lastLoud = { detail: '', at: 0 };
  const waiters: { resolve(): void; reject(error: Error): void }[] = [];

  const setUp = (): void => {
    failures = 0;
    if (up) return;
    up = true;
    ctx.metrics?.storeUp.set(1);
    logger.info({ queued: ctx.queue.size }, 'session store is up');
    ctx.emit({ kind: 'up' });
    for (const waiter of waiters.splice(0)) waiter.resolve();
  };

  const setDown = (why: string): void => {
    detail = why;
    if (!up) return;
    up = false;
    ctx.metrics?.storeUp.set(0);
    logger.warn({ detail: why }, 'session store is down; serving sessions from memory');
    ctx.emit({ kind: 'down' });
  };

  const loud = (why: string): void => {
    const now = Date.now();
    if (why === lastLoud.detail && now - lastLoud.at < LOUD_LOG_EVERY_MS) return;
    lastLoud = { detail: why, at: now };
    logger.error({ detail: why }, 'session store cannot start: keyspace notifications are unavailable');
  };

  const retryIn = (ms: number): void => {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      kick();
    }, ms);
    retryTimer.unref();
  };

  /** A key that hashes to `node` (Cluster), so the probe's notification comes from that master. */
  const probeKeyFor = async (node: RedisConnection): Promise<string | undefined> => {
    const client = backend.client;
    if (!isCluster(client)) return ctx.keys.probe(randomToken(9));
    const id = `${node.options.host ?? ''}:${node.options.port ?? ''}`;
    for (let i = 0; i < 256; i++) {
      const key = ctx.keys.probe(randomToken(9));
      const slot = Number(await client.cluster('KEYSLOT', key));
      if (client.slots[slot]?.[0] === id) return key;
    }
    return undefined;
  };

  /** Where CONFIG is refused, see for ourselves whether set, del and expired notifications arrive. */
  const probe = async (node: RedisConnection): Promise<boolean> => {
    const timeout = options.probeTimeoutMs ?? 2000;
    const [a, b] = [await probeKeyFor(node), await probeKeyFor(node)];
    if (a === undefined || b === undefined) return false;
    const client = backend.client;
    const seen = Promise.all([subscriber.expect(a, 'set', timeout), subscriber.expect(a, 'del', timeout), subscriber.expect(b, 'expired', timeout)]);
    await client.set(a, '1', 'PX', 10_000);
    await client.del(a);
    await client.set(b, '1', 'PX', 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await client.get(b); // an access expires the key at once and fires `expired`
    return (await seen).every(Boolean);
  };

  const checkKeyspace = async (): Promise<string | undefined> => {
    for (const node of backend.masters()) {
      const check = await ensureKeyspaceEvents(node, options.configureKeyspaceEvents);
      if (check.ok) {
        if (check.changed) logger.info(check.changed, 'enabled keyspace notifications (notify-keyspace-events)');
        continue;
      }
      if (check.unreadable && (await probe(node))) continue;
      return check.unreadable
        ? `${check.detail} and no keyspace notification arrived: set notify-keyspace-events to include K, g, $ and x (e.g. "Kg$x")`
        : check.detail;
    }
    return undefined;
  };

  const pass = async (): Promise<void> => {
    if (!backend.isReady()) return setDown('Redis is unreachable');
    if (!subscriber.isReady()) return setDown(detail.startsWith('PSUBSCRIBE') ? detail : 'the keyspace subscriber is not connected');
    const problem = await checkKeyspace();
    if (problem) {
      setDown(problem);
      loud(problem);
      return retryIn(CONFIG_RETRY_MS);
    }
    // remembered across passes: a pass that fails after noticing the loss must not forget it
    if (await restorer.lostData()) restorePending = true;
    // the outage's deletions first, so nothing restored or resynced can bring those sessions back
    await removals.flushQueue();
    if (restorePending) {
      await restorer.restore();
      restorePending = false;
    }
    await sync.resync();
    setUp();
  };

  const kick = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    void (async () => {
      do {
        again = false;
        try {
          await pass();
        } catch (error) {
          failures++;
          setDown(`Redis error during recovery: ${errorText(error)}`);
          logger.warn({ err: errorText(error) }, 'session store recovery failed; retrying');
          retryIn(Math.min(RETRY_MIN_MS * 2 ** Math.min(failures, 5), RETRY_MAX_MS));
        }
      } while (again && !closed);
      running = false;
    })();
  };

  return {
    ready() {
      if (up) return Promise.resolve();
      if (closed) return Promise.reject(new Error('session store closed'));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    kick,
    down: setDown,
    status: () => ({ up, queued: ctx.queue.size, ...(up ? {} : { detail }) }),
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      up = false;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error('session store closed before it was up'));
    },
  };
}
