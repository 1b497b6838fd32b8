import type { LRUCache } from 'lru-cache';
import type { Clock } from '../lib/clock.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ExpiringSet } from './expiring-set.js';
import type { RedisBackend } from '../redis/connection.js';
import type { RedisKeys } from './redis-keys.js';
import type { Mirror } from './redis-mirror.js';
import type { OutageQueue } from './redis-outage-queue.js';
import type { StoreEvent } from './store.js';
import type { TokenCipher } from './token-crypto.js';
import { sessionEndsAt, type Session, type Tombstone } from './types.js';

/** What the parts of the Redis store share; built once by createRedisStore. */
export interface StoreContext {
  backend: RedisBackend;
  keys: RedisKeys;
  mirror: Mirror;
  cipher: TokenCipher;
  clock: Clock;
  idleTimeoutMs: number;
  tombstoneTtlMs: number;
  logger: Logger;
  metrics?: Metrics;
  negative: LRUCache<string, true>;
  queue: OutageQueue;
  /** this replica's own one-time claims: replays to it are refused even while Redis is away */
  claims: ExpiringSet;
  /** IdP sids this replica ended (the authority is `P e:…` in Redis; this holds while it is away) */
  endedIdpSids: ExpiringSet;
  emit(event: StoreEvent): void;
  /** the command connection is up (the store may still be resyncing) */
  connected(): boolean;
}

export function isAlive(session: Session, now: number, idleTimeoutMs: number): boolean {
  return now < sessionEndsAt(session, idleTimeoutMs);
}

/** A reply from Redis (wrong type, NOPERM, script error) as opposed to a connection problem. */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

export function storeUnavailable(cause?: unknown): GatewayError {
  return new GatewayError('STORE_UNAVAILABLE', undefined, cause === undefined ? {} : { cause });
}

export function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 200);
}

/** A tombstone this replica learned of (its own deletion, a notification, a read): drop and tell once. */
export function applyTombstone(ctx: StoreContext, tombstone: Tombstone): void {
  const first = ctx.mirror.rememberTombstone(tombstone);
  ctx.mirror.drop(tombstone.handle);
  if (first) ctx.emit({ kind: 'tombstone', tombstone });
}

/**
 * A session read from Redis enters the mirror; listeners hear of it when it is new or changed.
 * `admit: false` (token loads, updates: the refresher touches every session in turn) only updates
 * a copy a bounded mirror already holds, so background work does not push the working set out.
 */
export function applySession(ctx: StoreContext, session: Session, admit = true): Session | undefined {
  if (!admit && ctx.mirror.bounded && !ctx.mirror.has(session.handle)) {
    ctx.negative.delete(session.handle);
    return session;
  }
  const result = ctx.mirror.apply(session);
  if (result === 'tombstoned') return undefined;
  ctx.negative.delete(session.handle);
  if (result === 'new' || result === 'changed') ctx.emit({ kind: 'set', session: ctx.mirror.get(session.handle) ?? session });
  return ctx.mirror.get(session.handle) ?? session;
}
