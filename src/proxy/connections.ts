import type { Clock } from '../lib/clock.js';
import type { Logger } from '../observability/logger.js';
import type { CloseReason, Metrics } from '../observability/metrics.js';
import { shouldTouch } from '../session/lifecycle.js';
import type { SessionStore, StoreEvent } from '../session/store.js';
import type { ForwardTarget } from './forward.js';

/**
 * What this replica has open on behalf of sessions: WebSockets and responses still streaming.
 * They outlive the request that was judged, so they are ended here when their session ends (any
 * logout, revocation or expiry, learned from the store's events) or when a reload's policy no
 * longer admits them. One per replica, built by the composition root.
 */
export interface OpenConnection {
  readonly handle: string;
  readonly kind: 'websocket' | 'stream';
  /** what the pipeline admitted, and with which method: judged again after a reload */
  readonly target: ForwardTarget;
  readonly method: string;
  /** true when the client sent something that counts as activity since the last call */
  takeActivity?(): boolean;
  /** ends it (called at most once, by the registry) */
  close(reason: CloseReason): void;
}

export interface ConnectionRegistry {
  /** Tracks `connection` until `remove` (it ended by itself) or the registry ends it. A Map set: cheap enough for every response. */
  add(connection: OpenConnection): void;
  remove(connection: OpenConnection): void;
  /** the store's change events: tombstones and expiries end connections, a resync reconciles */
  onStoreEvent(event: StoreEvent): void;
  /** Closes, with reason "policy", every connection `allowed` refuses; returns how many. */
  rejudge(allowed: (connection: OpenConnection) => boolean): number;
  /** open WebSockets and streams, e.g. for a gauge or a test */
  readonly size: number;
  close(): void;
}

export interface ConnectionRegistryDeps {
  store: Pick<SessionStore, 'peek' | 'get' | 'tombstone' | 'touch'>;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  idleTimeoutMs: number;
  /** how often tracked sessions are checked for expiry and activity; default 1s */
  sweepIntervalMs?: number;
}

export function createConnectionRegistry(deps: ConnectionRegistryDeps): ConnectionRegistry {
  const { store, clock } = deps;
  const log = deps.logger.child({ part: 'connections' });
  // by session handle: a session's end finds its connections without a scan
  const bySession = new Map<string, Set<OpenConnection>>();
  /** handles whose session is being looked up (the mirror no longer has them live) */
  const checking = new Set<string>();
  let count = 0;

  function drop(connection: OpenConnection): boolean {
    const set = bySession.get(connection.handle);
    if (!set?.delete(connection)) return false;
    count--;
    if (set.size === 0) bySession.delete(connection.handle);
    return true;
  }

  function end(connection: OpenConnection, reason: CloseReason): void {
    if (!drop(connection)) return;
    deps.metrics.connectionsClosed.inc({ reason });
    try {
      connection.close(reason);
    } catch (error) {
      log.warn({ err: error, kind: connection.kind }, 'closing a connection failed');
    }
  }

  function endSession(handle: string, reason: CloseReason): void {
    const set = bySession.get(handle);
    if (!set) return;
    const connections = [...set];
    for (const connection of connections) end(connection, reason);
    log.info({ session: handle, reason, connections: connections.length }, 'closed connections of an ended session');
  }

  /**
   * The mirror no longer holds the session live. It may only be stale (a touch on another replica
   * not seen yet), so the store decides; a session it does not know has ended. Expiry is
   * announced by events too, but those are fire-and-forget: this check is what makes it certain.
   */
  async function check(handle: string): Promise<void> {
    if (checking.has(handle)) return;
    checking.add(handle);
    try {
      if (await store.get(handle)) return;
      const tombstone = await store.tombstone(handle).catch(() => undefined);
      endSession(handle, tombstone ? 'logout' : 'expired');
    } catch (error) {
      log.debug({ err: error, session: handle }, 'session check failed; trying again on the next sweep');
    } finally {
      checking.delete(handle);
    }
  }

  /** One timer for all: cheap per session (a mirror read), I/O only for sessions that look over. */
  function sweep(): void {
    const now = clock.now();
    for (const [handle, set] of bySession) {
      const session = store.peek(handle);
      if (!session) {
        void check(handle);
        continue;
      }
      let active = false;
      for (const connection of set) if (connection.takeActivity?.()) active = true;
      // client traffic on an open WebSocket keeps the session alive, at the request path's touch rate
      if (active && shouldTouch(session, now, deps.idleTimeoutMs)) store.touch(handle, now).catch(() => undefined);
    }
  }

  const timer = setInterval(sweep, deps.sweepIntervalMs ?? 1000);
  timer.unref();

  return {
    add(connection) {
      let set = bySession.get(connection.handle);
      if (!set) bySession.set(connection.handle, (set = new Set()));
      if (set.has(connection)) return;
      set.add(connection);
      count++;
    },
    remove(connection) {
      drop(connection);
    },
    onStoreEvent(event) {
      if (event.kind === 'tombstone') endSession(event.tombstone.handle, 'logout');
      else if (event.kind === 'expired') endSession(event.handle, 'expired');
      else if (event.kind === 'resync') sweep();
    },
    rejudge(allowed) {
      let closed = 0;
      for (const set of [...bySession.values()]) {
        for (const connection of [...set]) {
          let keep: boolean;
          try {
            keep = allowed(connection);
          } catch (error) {
            log.warn({ err: error }, 'judging an open connection failed; closing it');
            keep = false;
          }
          if (!keep) {
            end(connection, 'policy');
            closed++;
          }
        }
      }
      if (closed) log.info({ closed }, 'closed open connections the new policy denies');
      return closed;
    },
    get size() {
      return count;
    },
    close() {
      clearInterval(timer);
      bySession.clear();
      count = 0;
    },
  };
}
