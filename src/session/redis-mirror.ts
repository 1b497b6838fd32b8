import { LRUCache } from 'lru-cache';
import { deepFreeze } from '../config/deep-freeze.js';
import type { Session, Tombstone } from './types.js';

/**
 * This replica's view of live sessions (no tokens), kept by notifications, miss lookups and
 * resyncs: every session, or (with `maxSessions`, session.redis.mirror_max_sessions) the most
 * recently used ones, in an LRU. It also remembers recent tombstones, so a read that raced a
 * deletion (a GET answered before the tombstone's notification arrived) cannot put the session back.
 */
export type ApplyResult = 'new' | 'changed' | 'touched' | 'stale' | 'tombstoned';

export interface Mirror {
  get(handle: string): Session | undefined;
  /** whether `handle` is held, without touching its recency */
  has(handle: string): boolean;
  /** true when the mirror keeps only a working set (misses are normal, resyncs do not fill it) */
  readonly bounded: boolean;
  /** Forgets every session (a bounded mirror's resync: what it held may have missed notifications). */
  clear(): void;
  /** Inserts `session` or replaces an older copy (higher version, or same version seen later). */
  apply(session: Session): ApplyResult;
  drop(handle: string): Session | undefined;
  /** Records a tombstone; true the first time this replica learns of it. */
  rememberTombstone(tombstone: Tombstone): boolean;
  tombstoneOf(handle: string): Tombstone | undefined;
  values(): Iterable<Session>;
  readonly size: number;
  /** From now on, remember which handles notifications change, and which the resync read, until `finishResync`. */
  beginResync(): void;
  /**
   * A session the resync read from Redis: put as it is (Redis is the authority) unless a
   * notification spoke of it since `beginResync` or it is tombstoned. Put at once, as pages
   * arrive, so the work overlaps the wait for the next page instead of piling up at the end.
   */
  resyncRead(session: Session): void;
  /** Drops what the resync did not read and no notification spoke of since `beginResync`. */
  finishResync(): { dropped: number };
  /** A resync that failed half-way drops nothing (what it read was true when read). */
  abortResync(): void;
}

/**
 * What leaves the store is the mirror's own view, deep-frozen when it was put: no caller can
 * change the mirror through it, and the request path reads it without a copy (a structuredClone
 * per request showed in profiles).
 */
export function cloneSession(session: Session): Session {
  return session;
}

/**
 * deepFreeze for the shape a session has: only the claims are of unknown depth. A resync freezes
 * every session it reads, and the generic walk (a key array per object and per string) showed in
 * its profile.
 */
function freezeSession(session: Session): Session {
  if (Object.isFrozen(session)) return session;
  const user = session.user;
  Object.freeze(user.groups);
  deepFreeze(user.claims);
  Object.freeze(user);
  return Object.freeze(session);
}

/** The parts of Map that the mirror uses; an LRUCache has them too. */
interface SessionTable {
  get(key: string): Session | undefined;
  has(key: string): boolean;
  set(key: string, value: Session): unknown;
  delete(key: string): boolean;
  keys(): Iterable<string>;
  values(): Iterable<Session>;
  clear(): void;
  readonly size: number;
}

export function createMirror(options: { tombstoneTtlMs: number; maxTombstones?: number; maxSessions?: number }): Mirror {
  const bounded = options.maxSessions !== undefined;
  // an unbounded mirror is a plain Map: no LRU bookkeeping per entry (heap per session is measured)
  const sessions: SessionTable = bounded ? new LRUCache<string, Session>({ max: options.maxSessions! }) : new Map<string, Session>();
  const tombstones = new LRUCache<string, Tombstone>({
    max: options.maxTombstones ?? 20_000,
    ttl: Math.max(1000, options.tombstoneTtlMs),
  });
  let changedDuringResync: Set<string> | undefined;
  let readDuringResync: Set<string> | undefined;
  let heldAtResync = 0;

  // callers hand in objects nobody else holds; frozen here, they can be handed out as they are
  const put = (session: Session): void => {
    sessions.set(session.handle, freezeSession(session));
  };

  return {
    get: (handle) => sessions.get(handle),
    has: (handle) => sessions.has(handle),
    bounded,
    clear() {
      sessions.clear();
    },
    apply(session) {
      if (tombstones.has(session.handle)) return 'tombstoned';
      const current = sessions.get(session.handle);
      let result: ApplyResult;
      if (!current) result = 'new';
      else if (session.version > current.version) result = 'changed';
      else if (session.version === current.version && session.lastSeenAt > current.lastSeenAt) result = 'touched';
      else return 'stale';
      put(session);
      changedDuringResync?.add(session.handle);
      return result;
    },
    drop(handle) {
      const current = sessions.get(handle);
      if (current) sessions.delete(handle);
      changedDuringResync?.add(handle);
      return current;
    },
    rememberTombstone(tombstone) {
      const first = !tombstones.has(tombstone.handle);
      if (first) tombstones.set(tombstone.handle, tombstone);
      return first;
    },
    tombstoneOf: (handle) => tombstones.get(handle),
    values: () => sessions.values(),
    get size() {
      return sessions.size;
    },
    beginResync() {
      changedDuringResync = new Set();
      readDuringResync = new Set();
      heldAtResync = sessions.size;
    },
    resyncRead(session) {
      // outside a resync nothing says whether a notification spoke since the read: drop it
      if (!readDuringResync || !changedDuringResync) return;
      const handle = session.handle;
      readDuringResync.add(handle);
      if (changedDuringResync.has(handle) || tombstones.has(handle)) return;
      put(session);
    },
    finishResync() {
      const spoke = changedDuringResync ?? new Set<string>();
      const read = readDuringResync ?? new Set<string>();
      changedDuringResync = undefined;
      readDuringResync = undefined;
      let dropped = 0;
      // what came in since beginResync was read or spoken of: a cold start has nothing to drop
      if (heldAtResync === 0) return { dropped };
      for (const handle of [...sessions.keys()]) {
        if (!read.has(handle) && !spoke.has(handle)) {
          sessions.delete(handle);
          dropped++;
        }
      }
      return { dropped };
    },
    abortResync() {
      changedDuringResync = undefined;
      readDuringResync = undefined;
    },
  };
}
