import { LRUCache } from 'lru-cache';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { decodeRecord, decodeTombstone, encodeBody, encodeRecord, int } from './redis-codec.js';
import { createRedisBackend } from './redis-connection.js';
import { applySession, errorText, isAlive, storeUnavailable, type StoreContext } from './redis-context.js';
import { createEventHub } from './redis-events.js';
import { createRedisKeys, escapeGlob, isValidHandle } from './redis-keys.js';
import { createMirror } from './redis-mirror.js';
import { createOutageQueue } from './redis-outage-queue.js';
import { createRecovery } from './redis-recovery.js';
import { createRemovals } from './redis-removals.js';
import { CREATE, INDEX_ADD, LEASE_ACQUIRE, LEASE_RELEASE, runScript, TOUCH, UPDATE } from './redis-scripts.js';
import { createKeyspaceSubscriber } from './redis-subscriber.js';
import { createSync } from './redis-sync.js';
import { describeTarget, parseRedisUrl } from './redis-url.js';
import { SKIP, type SessionStore } from './store.js';
import { createTokenCipher } from './token-crypto.js';
import { toSession, type Session, type SessionRecord } from './types.js';

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
}

const UPDATE_ATTEMPTS = 5;
/** index sets outlive their longest member by this much */
const INDEX_SLACK_MS = 60_000;

/**
 * The distributed session store (see docs/redis.md). Reads come from this replica's mirror;
 * writes are conditional Lua scripts; deletions leave tombstones; an outage degrades to the mirror.
 */
export function createRedisStore(options: RedisStoreOptions): SessionStore {
  const logger = options.logger.child({ component: 'session-store', store: 'redis' });
  const target = parseRedisUrl(options.url);
  const backend = createRedisBackend(target);
  const keys = createRedisKeys(options.keyPrefix);
  const mirror = createMirror({ tombstoneTtlMs: options.tombstoneTtlMs });
  const hub = createEventHub({ logger, ...(options.metrics ? { metrics: options.metrics } : {}), mirrorSize: () => mirror.size });
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
    emit: hub.emit,
    connected: () => backend.isReady(),
  };
  const sync = createSync(ctx);
  const subscriber = createKeyspaceSubscriber({
    backend,
    patterns: [keys.sessionPattern, `${escapeGlob(`${keys.prefix}t:{`)}*`, `${escapeGlob(keys.probe(''))}*`],
    onEvent: sync.onNotification,
    onReady: () => recovery.kick(),
    onDown: () => recovery.down('the keyspace subscriber lost its connection'),
    logger,
  });
  const removals = createRemovals(ctx, { onQueued: () => recovery.kick() });
  const recovery = createRecovery({ ctx, subscriber, sync, removals, configureKeyspaceEvents: options.configureKeyspaceEvents });
  const client = backend.client;
  let started = false;
  let closed = false;

  client.on('error', (error: Error) => logger.debug({ err: error.message }, 'redis connection error'));
  client.on('ready', () => recovery.kick());
  client.on('close', () => recovery.down('Redis is unreachable'));
  client.on('refresh', () => subscriber.reconcile()); // Cluster topology changed

  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    if (!ctx.connected()) throw storeUnavailable();
    try {
      return await work();
    } catch (error) {
      if (error instanceof Error && error.name === 'ReplyError') throw error;
      throw storeUnavailable(error);
    }
  };

  const endsIn = (session: Session, now: number): number => Math.min(session.expiresAt, session.lastSeenAt + options.idleTimeoutMs) - now;

  const index = async (session: Session, now: number): Promise<void> => {
    const ttl = String(Math.max(1, session.expiresAt - now) + INDEX_SLACK_MS);
    const work = [runScript(client, INDEX_ADD, [keys.bySub(session.user.sub)], [session.handle, ttl])];
    if (session.idpSid !== undefined) work.push(runScript(client, INDEX_ADD, [keys.byIdpSid(session.idpSid)], [session.handle, ttl]));
    await Promise.all(work);
  };

  /** The authoritative read, with tokens; undefined when gone, ended or unreadable. */
  const read = async (handle: string): Promise<SessionRecord | undefined> => {
    const value = await client.get(keys.session(handle));
    if (value === null) return undefined;
    const decoded = decodeRecord(value, handle);
    if (!decoded || !isAlive(decoded.session, options.clock.now(), options.idleTimeoutMs)) return undefined;
    const tokens = ctx.cipher.open(decoded.sealedTokens, handle);
    if (!tokens) {
      logger.warn({ handle }, 'session tokens do not decrypt (was session.encryption_key changed?)');
      return undefined;
    }
    applySession(ctx, decoded.session);
    return { ...decoded.session, tokens };
  };

  const store: SessionStore = {
    async start() {
      if (!started) {
        started = true;
        logger.info({ redis: describeTarget(target), prefix: options.keyPrefix }, 'connecting to Redis');
        subscriber.start();
        client.connect().catch(() => undefined); // ioredis keeps reconnecting; events drive recovery
      }
      await recovery.ready();
    },

    async get(handle) {
      if (!isValidHandle(handle)) return undefined;
      const now = options.clock.now();
      const known = mirror.get(handle);
      if (known) {
        if (isAlive(known, now, options.idleTimeoutMs)) return known;
        // past its absolute end it is over; past its idle end, a touch elsewhere may not have reached us yet
        if (now >= known.expiresAt) return undefined;
      }
      if (mirror.tombstoneOf(handle) || ctx.negative.has(handle) || !ctx.connected()) return undefined;
      try {
        return await sync.lookup(handle);
      } catch (error) {
        logger.debug({ err: errorText(error) }, 'session lookup failed');
        return undefined;
      }
    },

    peek(handle) {
      const session = mirror.get(handle);
      return session && isAlive(session, options.clock.now(), options.idleTimeoutMs) ? session : undefined;
    },

    async load(handle) {
      if (!isValidHandle(handle)) return undefined;
      return await guard(() => read(handle));
    },

    async create(record) {
      if (!isValidHandle(record.handle)) throw new TypeError('session handle must be base64url');
      const now = options.clock.now();
      const session = toSession(record);
      const ttl = endsIn(session, now);
      const value = encodeRecord(record, ctx.cipher.seal(record.tokens, record.handle));
      const result = await guard(async () => {
        // the indexes first: a logout by sub or sid that reads them after this point finds the session
        await index(session, now);
        return ttl < 1 ? 'ENDED' : await runScript(client, CREATE, [keys.session(record.handle), keys.tombstone(record.handle)], [value, String(ttl)]);
      });
      if (result === 'ENDED') return;
      if (result !== 'OK') throw new Error(result === 'TOMBSTONED' ? 'session handle was deleted' : 'session handle already exists');
      applySession(ctx, { ...session });
    },

    async update(handle, mutate) {
      if (!isValidHandle(handle)) return undefined;
      for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
        const current = await guard(() => read(handle));
        if (!current) return undefined;
        const next = mutate(structuredClone(current));
        if (next === SKIP) return undefined;
        const now = options.clock.now();
        const written: SessionRecord = { ...next, handle, version: current.version + 1 };
        const body = encodeBody(written, ctx.cipher.seal(written.tokens, handle));
        const result = await guard(() =>
          runScript(client, UPDATE, [keys.session(handle), keys.tombstone(handle)], [
            String(current.version),
            int(written.version),
            int(written.lastSeenAt),
            int(written.expiresAt),
            body,
            String(now),
            String(options.idleTimeoutMs),
          ]),
        );
        if (result === 'CONFLICT') continue;
        if (!Array.isArray(result) || result[0] !== 'OK') return undefined;
        written.lastSeenAt = Number(result[1]);
        const session = toSession(written);
        if (session.user.sub !== current.user.sub || session.idpSid !== current.idpSid || session.expiresAt !== current.expiresAt) {
          await guard(() => index(session, now));
        }
        applySession(ctx, session);
        return written;
      }
      throw new Error(`session update kept conflicting after ${UPDATE_ATTEMPTS} attempts`);
    },

    async touch(handle, lastSeenAt) {
      if (!isValidHandle(handle)) return;
      const known = mirror.get(handle);
      // this replica's view moves at once, so its idle check holds even while Redis is away
      if (known && lastSeenAt > known.lastSeenAt && isAlive(known, options.clock.now(), options.idleTimeoutMs)) {
        mirror.apply({ ...known, lastSeenAt });
      }
      if (!ctx.connected()) return;
      try {
        await runScript(client, TOUCH, [keys.session(handle), keys.tombstone(handle)], [
          String(Math.floor(lastSeenAt)),
          String(options.clock.now()),
          String(options.idleTimeoutMs),
        ]);
      } catch (error) {
        logger.debug({ err: errorText(error) }, 'touch not written');
      }
    },

    remove: (handle, reason) => (isValidHandle(handle) ? removals.remove(handle, reason) : Promise.resolve(undefined)),
    removeBySub: removals.removeBySub,
    removeByIdpSid: removals.removeByIdpSid,

    async tombstone(handle) {
      if (!isValidHandle(handle)) return undefined;
      if (!ctx.connected()) return mirror.tombstoneOf(handle);
      try {
        const value = await client.get(keys.tombstone(handle));
        return value === null ? undefined : decodeTombstone(value, handle);
      } catch {
        return mirror.tombstoneOf(handle);
      }
    },

    async listBySub(sub) {
      const now = options.clock.now();
      const fromMirror = (): Session[] => [...mirror.values()].filter((s) => s.user.sub === sub && isAlive(s, now, options.idleTimeoutMs));
      if (!ctx.connected()) return fromMirror();
      try {
        const indexKey = keys.bySub(sub);
        const handles = await client.smembers(indexKey);
        const values = await backend.getMany(handles.map((h) => keys.session(h)));
        const sessions: Session[] = [];
        const dead: string[] = [];
        handles.forEach((handle, i) => {
          const value = values[i];
          const decoded = typeof value === 'string' ? decodeRecord(value, handle) : undefined;
          if (value === null) dead.push(handle);
          if (decoded && decoded.session.user.sub === sub && isAlive(decoded.session, now, options.idleTimeoutMs)) sessions.push(decoded.session);
        });
        if (dead.length > 0) client.srem(indexKey, ...dead).catch(() => undefined);
        return sessions;
      } catch (error) {
        logger.debug({ err: errorText(error) }, 'listBySub fell back to the mirror');
        return fromMirror();
      }
    },

    async *list() {
      if (!ctx.connected()) {
        yield* store.snapshot();
        return;
      }
      for await (const page of backend.scan(keys.sessionPattern, 1000)) {
        const values = await guard(() => backend.getMany(page));
        const now = options.clock.now();
        for (const [i, key] of page.entries()) {
          const what = keys.classify(key);
          const value = values[i];
          if (what.kind !== 'session' || typeof value !== 'string') continue;
          const decoded = decodeRecord(value, what.handle);
          if (decoded && isAlive(decoded.session, now, options.idleTimeoutMs)) yield decoded.session;
        }
      }
    },

    *snapshot() {
      const now = options.clock.now();
      for (const session of mirror.values()) if (isAlive(session, now, options.idleTimeoutMs)) yield session;
    },

    async acquireLease(name, owner, ttlMs) {
      if (!ctx.connected()) return false; // nobody refreshes while the result could not be stored
      try {
        return (await runScript(client, LEASE_ACQUIRE, [keys.lease(name)], [owner, String(Math.max(1, Math.ceil(ttlMs)))])) === 1;
      } catch (error) {
        logger.debug({ err: errorText(error) }, 'lease not acquired');
        return false;
      }
    },

    async releaseLease(name, owner) {
      if (!ctx.connected()) return;
      await runScript(client, LEASE_RELEASE, [keys.lease(name)], [owner]).catch(() => undefined);
    },

    subscribe: hub.subscribe,
    status: recovery.status,

    async close() {
      if (closed) return;
      closed = true;
      recovery.close();
      await subscriber.close();
      await backend.close();
    },
  };
  return store;
}
