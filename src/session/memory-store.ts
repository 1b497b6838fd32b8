import type { Clock } from '../lib/clock.js';
import { createEventHub } from './event-hub.js';
import { createExpiringSet } from './expiring-set.js';
import { isLive } from './lifecycle.js';
import { IdpSessionEndedError, SKIP, type SessionStore } from './store.js';
import { toSession, type Session, type SessionRecord, type Tombstone, type TombstoneReason } from './types.js';

/**
 * The embedded SessionStore: everything in this process, for a single replica (the demo, small
 * installs, tests). It keeps the same promises as the Redis store: conditional writes that never
 * overwrite a tombstone, exact sub / IdP-sid indexes, tombstones with a TTL, expiry announced as
 * an event. Records are copied in and out, so no caller can change stored state by mutation.
 */
export interface MemoryStoreOptions {
  clock: Clock;
  idleTimeoutMs: number;
  tombstoneTtlMs: number;
  /** how often expired sessions, tombstones and leases are swept; default 1s */
  sweepIntervalMs?: number;
  /** where a throwing event listener's error goes (e.g. a logger); default: dropped */
  onListenerError?: (error: unknown) => void;
  /** how many one-time claims and ended IdP sids are kept at most (oldest go first); default 100 000 */
  maxClaims?: number;
}

/** a mutator that keeps writing to the store itself cannot loop forever */
const MAX_UPDATE_ATTEMPTS = 5;

export function createMemoryStore(options: MemoryStoreOptions): SessionStore {
  const { clock, idleTimeoutMs, tombstoneTtlMs } = options;
  const sweepIntervalMs = options.sweepIntervalMs ?? 1000;
  positive('idleTimeoutMs', idleTimeoutMs);
  positive('tombstoneTtlMs', tombstoneTtlMs);
  positive('sweepIntervalMs', sweepIntervalMs);

  // every write stores a fresh object; stored objects are never mutated in place
  const records = new Map<string, SessionRecord>();
  const bySub = new Map<string, Set<string>>();
  const byIdpSid = new Map<string, Set<string>>();
  const tombstones = new Map<string, { tombstone: Tombstone; until: number }>();
  const leases = new Map<string, { owner: string; until: number }>();
  // bounded: only verified logout tokens add to these, and they matter for minutes
  const claims = createExpiringSet(options.maxClaims ?? 100_000);
  const endedIdpSids = createExpiringSet(options.maxClaims ?? 100_000);
  const hub = createEventHub(options.onListenerError);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /**
   * A frozen view per record, made once per write: the request path reads sessions on every
   * request, and handing out the same immutable object costs nothing where a copy costs µs.
   */
  const views = new Map<string, Session>();

  function put(record: SessionRecord): void {
    const previous = records.get(record.handle);
    if (previous) unindex(previous);
    records.set(record.handle, record);
    views.set(record.handle, deepFreeze(toSession(structuredClone(record))));
    addTo(bySub, record.user.sub, record.handle);
    if (record.idpSid !== undefined) addTo(byIdpSid, record.idpSid, record.handle);
    hub.emit({ kind: 'set', session: toSession(record) });
  }

  function unindex(record: SessionRecord): void {
    removeFrom(bySub, record.user.sub, record.handle);
    if (record.idpSid !== undefined) removeFrom(byIdpSid, record.idpSid, record.handle);
  }

  function drop(record: SessionRecord): void {
    records.delete(record.handle);
    views.delete(record.handle);
    unindex(record);
  }

  /** The live record, or undefined; one found expired is dropped and announced on sight. */
  function live(handle: string, now = clock.now()): SessionRecord | undefined {
    const record = records.get(handle);
    if (!record) return undefined;
    if (isLive(record, now, idleTimeoutMs)) return record;
    drop(record);
    hub.emit({ kind: 'expired', handle, sub: record.user.sub });
    return undefined;
  }

  function keptTombstone(handle: string, now = clock.now()): Tombstone | undefined {
    const kept = tombstones.get(handle);
    if (!kept) return undefined;
    if (kept.until > now) return kept.tombstone;
    tombstones.delete(handle);
    return undefined;
  }

  function removeOne(handle: string, reason: TombstoneReason): Tombstone | undefined {
    const now = clock.now();
    const record = live(handle, now);
    if (!record) return undefined;
    drop(record);
    const tombstone: Tombstone = { handle, sub: record.user.sub, reason, at: now };
    if (record.idpSid !== undefined) tombstone.idpSid = record.idpSid;
    tombstones.set(handle, { tombstone, until: now + tombstoneTtlMs });
    hub.emit({ kind: 'tombstone', tombstone });
    return { ...tombstone };
  }

  function liveSessions(handles: Iterable<string>): Session[] {
    const now = clock.now();
    const sessions: Session[] = [];
    for (const handle of [...handles]) {
      const record = live(handle, now);
      if (record) sessions.push(copySession(record));
    }
    return sessions;
  }

  function sweep(): void {
    const now = clock.now();
    for (const handle of [...records.keys()]) live(handle, now);
    for (const handle of [...tombstones.keys()]) keptTombstone(handle, now);
    for (const [name, lease] of leases) if (lease.until <= now) leases.delete(name);
  }

  return {
    async start() {
      if (timer || closed) return;
      timer = setInterval(sweep, sweepIntervalMs);
      timer.unref();
    },

    async get(handle) {
      return live(handle) && views.get(handle);
    },

    peek(handle) {
      return live(handle) && views.get(handle);
    },

    async load(handle) {
      const record = live(handle);
      return record && structuredClone(record);
    },

    async create(record) {
      if (typeof record?.handle !== 'string' || !record.handle || typeof record.user?.sub !== 'string') {
        throw new TypeError('a session record needs a handle and user.sub');
      }
      const now = clock.now();
      if (live(record.handle, now)) throw new Error('a session with this handle already exists');
      if (keptTombstone(record.handle, now)) throw new Error('a session with this handle was removed');
      // checked in the same turn as the write: a logout by sid is either before it or finds it
      if (record.idpSid !== undefined && endedIdpSids.has(record.idpSid, now)) throw new IdpSessionEndedError();
      put(structuredClone(record));
    },

    async update(handle, mutate) {
      for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
        const current = live(handle);
        if (!current) return undefined;
        const next = mutate(structuredClone(current));
        if (next === SKIP) return undefined;
        // the mutator is caller code and may have written to the store: compare before writing
        const latest = live(handle);
        if (!latest) return undefined;
        if (latest.version !== current.version) continue;
        const written: SessionRecord = { ...structuredClone(next), handle, version: current.version + 1 };
        put(written);
        return structuredClone(written);
      }
      throw new Error('session update kept conflicting; gave up');
    },

    async touch(handle, lastSeenAt) {
      const record = live(handle);
      // never moves backwards, and a removed or expired session stays gone
      if (!record || !(lastSeenAt > record.lastSeenAt)) return;
      put({ ...record, lastSeenAt, version: record.version + 1 });
    },

    async remove(handle, reason) {
      return removeOne(handle, reason);
    },

    async removeBySub(sub, reason) {
      return removeAll(bySub.get(sub), reason);
    },

    async removeByIdpSid(idpSid, reason, options) {
      const refuseFor = options?.refuseNewForMs;
      if (refuseFor !== undefined && refuseFor > 0) endedIdpSids.add(idpSid, clock.now() + refuseFor);
      return removeAll(byIdpSid.get(idpSid), reason);
    },

    async claimOnce(name, ttlMs) {
      positive('ttlMs', ttlMs);
      const now = clock.now();
      return claims.claim(name, now, now + ttlMs);
    },

    async tombstone(handle) {
      const tombstone = keptTombstone(handle);
      return tombstone && { ...tombstone };
    },

    async listBySub(sub) {
      return liveSessions(bySub.get(sub) ?? []).sort((a, b) => a.createdAt - b.createdAt);
    },

    async *list() {
      // handles first: the map may change while the caller consumes the pages
      for (const handle of [...records.keys()]) {
        const record = live(handle);
        if (record) yield copySession(record);
      }
    },

    snapshot() {
      return liveSessions(records.keys());
    },

    size() {
      return records.size;
    },

    async acquireLease(name, owner, ttlMs) {
      positive('ttlMs', ttlMs);
      const now = clock.now();
      const lease = leases.get(name);
      if (lease && lease.until > now && lease.owner !== owner) return false;
      leases.set(name, { owner, until: now + ttlMs });
      return true;
    },

    async releaseLease(name, owner) {
      if (leases.get(name)?.owner === owner) leases.delete(name);
    },

    subscribe(listener) {
      return hub.subscribe(listener);
    },

    status() {
      return { up: true, queued: 0 };
    },

    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      hub.clear();
    },
  };

  function removeAll(handles: Set<string> | undefined, reason: TombstoneReason): Tombstone[] {
    const removed: Tombstone[] = [];
    for (const handle of [...(handles ?? [])]) {
      const tombstone = removeOne(handle, reason);
      if (tombstone) removed.push(tombstone);
    }
    return removed;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function copySession(record: SessionRecord): Session {
  return structuredClone(toSession(record));
}

function addTo(index: Map<string, Set<string>>, key: string, handle: string): void {
  const handles = index.get(key);
  if (handles) handles.add(handle);
  else index.set(key, new Set([handle]));
}

function removeFrom(index: Map<string, Set<string>>, key: string, handle: string): void {
  const handles = index.get(key);
  if (!handles) return;
  handles.delete(handle);
  if (handles.size === 0) index.delete(key);
}

function positive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`memory store: ${name} must be a positive number of ms`);
}
