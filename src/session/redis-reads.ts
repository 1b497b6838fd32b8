import { decodeTombstone, decodeView } from './redis-codec.js';
import { applySession, errorText, isAlive, type StoreContext } from './redis-context.js';
import { isValidHandle } from './redis-keys.js';
import { cloneSession } from './redis-mirror.js';
import type { SessionStore } from './store.js';
import type { Sync } from './redis-sync.js';
import type { Session, SessionRecord } from './types.js';

type Reads = Pick<SessionStore, 'get' | 'peek' | 'load' | 'tombstone' | 'listBySub' | 'list' | 'snapshot'>;

/**
 * Reads. The request path (get, peek) is served by the mirror with no I/O; a miss costs one GET
 * (then a negative-cache entry). load() is the only read of tokens. While Redis is away, reads that
 * can be answered from the mirror are; load() fails with STORE_UNAVAILABLE.
 */
export function createReads(ctx: StoreContext, sync: Sync, guard: <T>(work: () => Promise<T>) => Promise<T>): Reads {
  const { mirror, keys, backend, logger } = ctx;
  const client = backend.client;
  const alive = (session: Session, now = ctx.clock.now()): boolean => isAlive(session, now, ctx.idleTimeoutMs);

  /** The authoritative read, with tokens; undefined when gone, ended or unreadable. */
  const read = async (handle: string): Promise<SessionRecord | undefined> => {
    // one MGET: both keys share the hash tag, and the pair is read atomically
    const [view, sealed] = await client.mget(keys.session(handle), keys.tokens(handle));
    if (typeof view !== 'string') return undefined;
    const session = decodeView(view, handle);
    if (!session || !alive(session)) return undefined;
    const tokens = typeof sealed === 'string' ? ctx.cipher.open(sealed, handle) : undefined;
    if (!tokens) {
      logger.warn({ handle }, 'session tokens are missing or do not decrypt (was session.encryption_key changed?)');
      return undefined;
    }
    const record: SessionRecord = { ...cloneSession(session), tokens };
    applySession(ctx, session, false);
    return record;
  };

  const fromMirror = (test: (s: Session) => boolean): Session[] => {
    const now = ctx.clock.now();
    return [...mirror.values()].filter((s) => test(s) && alive(s, now)).map(cloneSession);
  };

  const reads: Reads = {
    async get(handle) {
      if (!isValidHandle(handle)) return undefined;
      const now = ctx.clock.now();
      const known = mirror.get(handle);
      if (known) {
        if (alive(known, now)) return cloneSession(known);
        // past its absolute end it is over; past its idle end, a touch elsewhere may not have reached us yet
        if (now >= known.expiresAt) return undefined;
      }
      if (mirror.tombstoneOf(handle) || ctx.negative.has(handle) || !ctx.connected()) return undefined;
      try {
        const found = await sync.lookup(handle);
        return found && cloneSession(found);
      } catch (error) {
        logger.debug({ err: errorText(error) }, 'session lookup failed');
        return undefined;
      }
    },

    peek(handle) {
      const session = mirror.get(handle);
      return session && alive(session) ? cloneSession(session) : undefined;
    },

    async load(handle) {
      if (!isValidHandle(handle)) return undefined;
      return await guard(() => read(handle));
    },

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
      if (!ctx.connected()) return fromMirror((s) => s.user.sub === sub);
      try {
        const indexKey = keys.bySub(sub);
        const handles = await client.smembers(indexKey);
        const values = await backend.getMany(handles.map((h) => keys.session(h)));
        const now = ctx.clock.now();
        const sessions: Session[] = [];
        const dead: string[] = [];
        handles.forEach((handle, i) => {
          const value = values[i];
          const session = typeof value === 'string' ? decodeView(value, handle) : undefined;
          if (session && session.user.sub === sub && alive(session, now)) sessions.push(session);
          else if (value === null || (session && session.user.sub !== sub)) dead.push(handle);
        });
        if (dead.length > 0) client.srem(indexKey, ...dead).catch(() => undefined);
        return sessions;
      } catch (error) {
        logger.debug({ err: errorText(error) }, 'listBySub fell back to the mirror');
        return fromMirror((s) => s.user.sub === sub);
      }
    },

    async *list() {
      if (!ctx.connected()) {
        yield* fromMirror(() => true);
        return;
      }
      for await (const page of backend.scan(keys.sessionPattern, 1000)) {
        const values = await guard(() => backend.getMany(page));
        const now = ctx.clock.now();
        for (const [i, key] of page.entries()) {
          const what = keys.classify(key);
          const value = values[i];
          if (what.kind !== 'session' || typeof value !== 'string') continue;
          const session = decodeView(value, what.handle);
          if (session && alive(session, now)) yield session;
        }
      }
    },

    *snapshot() {
      const now = ctx.clock.now();
      for (const session of mirror.values()) if (alive(session, now)) yield cloneSession(session);
    },
  };
  return reads;
}
