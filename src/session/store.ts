import type { Session, SessionRecord, Tombstone, TombstoneReason } from './types.js';

/**
 * Change events, delivered to every listener on this replica. For the Redis store they come
 * from keyspace notifications, a miss lookup or a resync; for the memory store, from its own writes.
 */
export type StoreEvent =
  | { kind: 'set'; session: Session }
  | { kind: 'tombstone'; tombstone: Tombstone }
  /**
   * the record's TTL ran out (idle or absolute expiry); no tombstone is written for that.
   * `sub` is the user's when this replica held the session.
   */
  | { kind: 'expired'; handle: string; sub?: string }
  /** a (re)sync finished: listeners should reconcile with `snapshot()` */
  | { kind: 'resync'; sessions: number }
  | { kind: 'up' }
  | { kind: 'down' };

export type StoreListener = (event: StoreEvent) => void;

/** Returned by `update`'s mutator to skip the write. */
export const SKIP = Symbol('skip');

/**
 * `create` refused a session whose IdP session was ended (a back-channel logout naming its
 * `sid`) moments before: the login raced its own logout, and the logout wins.
 */
export class IdpSessionEndedError extends Error {
  constructor() {
    super('the IdP session of this login was ended by a logout');
    this.name = 'IdpSessionEndedError';
  }
}

export interface RemoveByIdpSidOptions {
  /**
   * Also refuse, for this long, to create a session with this IdP sid (IdpSessionEndedError):
   * a login that raced the logout cannot outlive it. The refusal is recorded before the
   * sessions are looked up, so every create either sees it or is found and ended.
   */
  refuseNewForMs?: number;
}

export interface StoreStatus {
  up: boolean;
  /** writes waiting for the store to come back */
  queued: number;
  /** a short reason when not up, e.g. "notify-keyspace-events disabled and CONFIG SET refused" */
  detail?: string;
}

/**
 * Refresh due times shared by every replica (the Redis store's `P r`): what a replica with a
 * bounded mirror schedules refreshes from. Scores are ms since epoch on the access-token-expiry
 * scale: a member is due at score − refresh_ahead.
 */
export interface RefreshQueue {
  /**
   * Hands out up to `max` members with score ≤ `dueBy`, each moved to `holdUntil` so that no
   * other replica gets it until then; `next` is the earliest score left (after the move).
   */
  claim(dueBy: number, holdUntil: number, max: number): Promise<{ claimed: { handle: string; score: number }[]; next?: number }>;
  schedule(handle: string, score: number): Promise<void>;
  unschedule(handle: string): Promise<void>;
}

export interface SessionStore {
  /** Present on stores shared by replicas (Redis); see RefreshQueue. */
  readonly refreshQueue?: RefreshQueue;
  /** Resolves once the store is usable (connected, notifications on, first sync done). */
  start(): Promise<void>;
  /**
   * The request-path read: the in-memory mirror first, then (Redis) one store read on a miss,
   * with a bounded negative cache. Never returns an expired or tombstoned session.
   */
  get(handle: string): Promise<Session | undefined>;
  /** Synchronous mirror read, no I/O. */
  peek(handle: string): Session | undefined;
  /** Authoritative read with tokens (decrypted). */
  load(handle: string): Promise<SessionRecord | undefined>;
  /**
   * Writes a new session; fails if the handle exists or is tombstoned, and with
   * IdpSessionEndedError if its IdP sid was ended (see `removeByIdpSid`'s refuseNewForMs).
   */
  create(record: SessionRecord): Promise<void>;
  /**
   * Conditional read-modify-write: `mutate` gets the current record and returns the new one
   * (or SKIP). The write happens only if the record is unchanged since the read and not
   * tombstoned; conflicts retry a bounded number of times. Resolves to the written record,
   * or undefined if the session is gone (deleted, tombstoned, expired) or the mutator skipped.
   */
  update(handle: string, mutate: (current: SessionRecord) => SessionRecord | typeof SKIP): Promise<SessionRecord | undefined>;
  /** Sliding idle expiry: sets lastSeenAt (never resurrects a tombstoned session). */
  touch(handle: string, lastSeenAt: number): Promise<void>;
  /** Deletes with a tombstone naming session, user, IdP sid and reason. */
  remove(handle: string, reason: TombstoneReason): Promise<Tombstone | undefined>;
  removeBySub(sub: string, reason: TombstoneReason): Promise<Tombstone[]>;
  removeByIdpSid(idpSid: string, reason: TombstoneReason, options?: RemoveByIdpSidOptions): Promise<Tombstone[]>;
  /**
   * A one-time claim across replicas (the replay guard for logout tokens): true the first time
   * `name` is claimed, false while the claim lasts (`ttlMs`). Names are hashed before storage.
   * While a distributed store is unreachable, claims are checked on this replica only.
   */
  claimOnce(name: string, ttlMs: number): Promise<boolean>;
  /** The tombstone for a handle, if one is still kept. */
  tombstone(handle: string): Promise<Tombstone | undefined>;
  listBySub(sub: string): Promise<Session[]>;
  /** Every live session (operators' `sessions list --all`); streams in pages. */
  list(): AsyncIterable<Session>;
  /** What this replica's mirror holds now. */
  snapshot(): Iterable<Session>;
  /** How many sessions the mirror holds (the sessions_active gauge), without copying them. */
  size(): number;
  /**
   * A lease for exclusive work on a key across replicas (refresh). True when `owner` now holds
   * it for `ttlMs`; it passes on by itself when the holder dies.
   */
  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  subscribe(listener: StoreListener): () => void;
  status(): StoreStatus;
  close(): Promise<void>;
}
