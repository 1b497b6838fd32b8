import type { Config } from '../config/index.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createMemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';
import type { SessionStore } from './store.js';
import { tokenKeyMaterial } from './token-crypto.js';

/** The configured session store: memory (single node) or Redis (replicas). */
export function createSessionStore(
  config: Config,
  deps: { clock: Clock; logger: Logger; metrics: Metrics },
): SessionStore {
  const { session } = config;
  if (session.store === 'memory') {
    return createMemoryStore({
      clock: deps.clock,
      idleTimeoutMs: session.idle_timeout,
      tombstoneTtlMs: session.redis.tombstone_ttl,
    });
  }
  return createRedisStore({
    url: session.redis.url,
    keyPrefix: session.redis.key_prefix,
    // without an encryption_key, the AES key is derived from the cookie secret with its own HKDF label
    tokenKey: tokenKeyMaterial(session.encryption_key, config.cookie.secret),
    clock: deps.clock,
    idleTimeoutMs: session.idle_timeout,
    tombstoneTtlMs: session.redis.tombstone_ttl,
    configureKeyspaceEvents: session.redis.configure_keyspace_events,
    outageQueueLimit: session.redis.outage_queue_limit,
    ...(session.redis.mirror_max_sessions === undefined ? {} : { mirrorMaxSessions: session.redis.mirror_max_sessions }),
    logger: deps.logger,
    metrics: deps.metrics,
  });
}
