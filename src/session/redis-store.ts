import { LRUCache } from 'lru-cache';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createRedisBackend } from '../redis/connection.js';
import { isReplyError, storeUnavailable, type StoreContext } from './redis-context.js';
import { createExpiringSet } from './expiring-set.js';
import { createStoreEvents } from './redis-events.js';
import { createRedisKeys, escapeGlob, isValidHandle } from './redis-keys.js';
import { createMirror } from './redis-mirror.js';
import { createOutageQueue } from './redis-outage-queue.js';
import { createReads } from './redis-reads.js';
import { createRecovery } from './redis-recovery.js';
import { createRefreshQueue } from './redis-refresh-queue.js';
import { createRemovals } from './redis-removals.js';
import { createRestorer } from './redis-restore.js';
import { createKeyspaceSubscriber } from '../redis/subscriber.js';
import { createSync } from './redis-sync.js';
import { describeTarget, parseRedisUrl } from '../config/redis-url.js';
import { createWrites } from './redis-writes.js';
import type { SessionStore } from './store.js';
import { createTokenCipher } from './token-crypto.js';

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  /** key material for tokens at rest (see token-crypto.ts) */
  tokenKey: string;
  clock: Clock;
  idleTimeoutMs: number;
  tombstoneTtlMs: number;
  configureKeyspaceEvents: boolean;
  outageQueueLimit: number;
  logger: Logger;
  metrics?: Metrics;
  negativeCacheSize?: number;
  negativeCacheTtlMs?: number;
  /** keep at most this many sessions in the mirror (an LRU working set); default: every session */
  mirrorMaxSessions?: number;
  /** one-time claims and ended IdP sids this replica also keeps in memory; default 100 000 each */
  maxLocalClaims?: number;
}

/**
 * The distributed session store (see docs/redis.md). Reads come from this replica's mirror;
 * writes are conditional Lua scripts; deletions leave tombstones; an outage degrades to the
 * mirror. This file only wires the parts together.
 */
export function createRedisStore(options: RedisStoreOptions): SessionStore {
  const logger = options.logger.child({ component: 'session-store', store: 'redis' });
  const target = parseRedisUrl(options.url);
  const backend = createRedisBackend(target);
  const keys = createRedisKeys(options.keyPrefix);
  const mirror = createMirror({
    tombstoneTtlMs: options.tombstoneTtlMs,
    ...(options.mirrorMaxSessions === undefined ? {} : { maxSessions: options.mirrorMaxSessions }),
  });
  const events = createStoreEvents({ logger, ...(options.metrics ? { metrics: options.metrics } : {}) });
  const ctx: StoreContext = {
    backend,
    keys,
    mirror,
    cipher: createTokenCipher(options.tokenKey),
    clock: options.clock,
    idleTimeoutMs: options.idleTimeoutMs,
    tombstoneTtlMs: options.tombstoneTtlMs,
    logger,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    negative: new LRUCache<string, true>({ max: options.negativeCacheSize ?? 5000, ttl: options.negativeCacheTtlMs ?? 2000 }),
    queue: createOutageQueue(options.outageQueueLimit),
    claims: createExpiringSet(options.maxLocalClaims ?? 100_000),
    endedIdpSids: createExpiringSet(options.maxLocalClaims ?? 100_000),
    emit: events.emit,
    connected: () => backend.isReady(),
  };
  options.metrics?.storeUp.set(0);

  /** Connection trouble becomes STORE_UNAVAILABLE (503); a refusal by Redis stays what it is. */
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    if (!ctx.connected()) throw storeUnavailable();
    try {
      return await work();
    } catch (error) {
      throw isReplyError(error) ? error : storeUnavailable(error);
    }
  };

  const sync = createSync(ctx);
  const subscriber = createKeyspaceSubscriber({
    backend,
    patterns: [keys.sessionPattern, `${escapeGlob(`${keys.prefix}t:{`)}*`, `${escapeGlob(keys.probe(''))}*`],
    onEvent: sync.onNotification,
    onReady: () => recovery.kick(),
    onDown: (detail) => recovery.down(detail),
    logger,
  });
  const removals = createRemovals(ctx, { onQueued: () => recovery.kick() });
  const recovery = createRecovery({
    ctx,
    subscriber,
    sync,
    removals,
    restorer: createRestorer(ctx),
    configureKeyspaceEvents: options.configureKeyspaceEvents,
  });
  const reads = createReads(ctx, sync, guard);
  const writes = createWrites(ctx, reads.load, guard);

  const client = backend.client;
  client.on('error', (error: Error) => logger.debug({ err: error.message }, 'redis connection error'));
  client.on('ready', () => {
    subscriber.reconcile(); // Cluster: one subscriber per master, known once slots are loaded
    recovery.kick();
  });
  client.on('close', () => recovery.down('Redis is unreachable'));
  client.on('refresh', () => subscriber.reconcile()); // Cluster topology changed
  let started = false;
  let closed = false;

  return {
    ...reads,
    ...writes,
    async start() {
      if (!started) {
        started = true;
        logger.info({ redis: describeTarget(target), prefix: options.keyPrefix }, 'connecting to Redis');
        subscriber.start();
        client.connect().catch(() => undefined); // ioredis keeps reconnecting; its events drive recovery
      }
      await recovery.ready();
    },
    remove: (handle, reason) => (isValidHandle(handle) ? removals.remove(handle, reason) : Promise.resolve(undefined)),
    refreshQueue: createRefreshQueue(ctx),
    removeBySub: removals.removeBySub,
    removeByIdpSid: removals.removeByIdpSid,
    subscribe: events.subscribe,
    size: () => mirror.size,
    status: recovery.status,
    async close() {
      if (closed) return;
      closed = true;
      recovery.close();
      events.clear();
      await subscriber.close();
      await backend.close();
    },
  };
}
