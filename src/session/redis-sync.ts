import { decodeTombstone, decodeView } from './redis-codec.js';
import { applySession, applyTombstone, errorText, isAlive, type StoreContext } from './redis-context.js';
import type { Session } from './types.js';

/**
 * Keeps the mirror in step with Redis: keyspace notifications (reads batched per event-loop
 * turn and pipelined), miss lookups (one GET, coalesced per handle) and full resyncs (SCAN).
 * Notifications are at-most-once, so every (re)connect ends in a resync.
 */
export interface Sync {
  onNotification(key: string, event: string): void;
  /** the mirror miss path: one read of `handle`'s record */
  lookup(handle: string): Promise<Session | undefined>;
  /** rebuilds the mirror from a SCAN; resolves to the number of sessions found */
  resync(): Promise<number>;
}

const BATCH = 1000;
const SCAN_COUNT = 1000;
const RESYNC_PARALLEL = 4;

export function createSync(ctx: StoreContext): Sync {
  const { keys, mirror, backend, logger } = ctx;
  const pendingSessions = new Set<string>();
  const pendingTombstones = new Set<string>();
  /** records deleted by someone: a tombstone tells why; without one it was a bare DEL (→ the user, if known) */
  const pendingDeletes = new Map<string, string | undefined>();
  const lookups = new Map<string, Promise<Session | undefined>>();
  let scheduled = false;

  const decodeAlive = (handle: string, value: string | null | undefined, now: number): Session | undefined => {
    if (typeof value !== 'string') return undefined;
    const session = decodeView(value, handle);
    if (!session) {
      logger.warn({ handle }, 'ignoring a session record this gateway cannot read');
      return undefined;
    }
    return isAlive(session, now, ctx.idleTimeoutMs) ? session : undefined;
  };

  const flush = async (): Promise<void> => {
    scheduled = false;
    const sessions = [...pendingSessions];
    const tombstones = [...new Set([...pendingTombstones, ...pendingDeletes.keys()])];
    const deletes = new Map(pendingDeletes);
    pendingSessions.clear();
    pendingTombstones.clear();
    pendingDeletes.clear();
    const reads = [
      ...sessions.map((handle) => ({ handle, key: keys.session(handle), tombstone: false })),
      ...tombstones.map((handle) => ({ handle, key: keys.tombstone(handle), tombstone: true })),
    ];
    for (let i = 0; i < reads.length; i += BATCH) {
      const chunk = reads.slice(i, i + BATCH);
      let values: (string | null)[];
      try {
        values = await backend.getMany(chunk.map((read) => read.key));
      } catch (error) {
        // the reconnect that follows resyncs, so nothing is lost for good
        logger.debug({ err: errorText(error) }, 'notification reads failed');
        return;
      }
      const now = ctx.clock.now();
      chunk.forEach((read, index) => {
        const value = values[index];
        if (!read.tombstone) {
          const session = decodeAlive(read.handle, value, now);
          if (session) applySession(ctx, session);
          return;
        }
        const tombstone = typeof value === 'string' ? decodeTombstone(value, read.handle) : undefined;
        if (tombstone) applyTombstone(ctx, tombstone);
        else if (deletes.has(read.handle) && !mirror.tombstoneOf(read.handle)) expired(read.handle, deletes.get(read.handle));
      });
    }
  };

  const expired = (handle: string, sub: string | undefined): void => {
    ctx.emit(sub === undefined ? { kind: 'expired', handle } : { kind: 'expired', handle, sub });
  };

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      flush().catch((error: unknown) => logger.error({ err: error }, 'applying notifications failed'));
    });
  };

  return {
    onNotification(key, event) {
      const what = keys.classify(key);
      if (what.kind === 'other') return;
      const { handle } = what;
      if (what.kind === 'tombstone') {
        if (event === 'set') {
          pendingTombstones.add(handle);
          schedule();
        }
        return;
      }
      if (event === 'set') {
        // a bounded mirror follows only what it holds (or is reading): a write elsewhere is no reason to pull a session in
        if (mirror.bounded && !mirror.has(handle) && !lookups.has(handle)) return;
        pendingSessions.add(handle);
        schedule();
      } else if (event === 'expired' || event === 'evicted') {
        const dropped = mirror.drop(handle);
        if (!mirror.tombstoneOf(handle)) expired(handle, dropped?.user.sub);
      } else if (event === 'del') {
        const dropped = mirror.drop(handle);
        if (dropped || !mirror.tombstoneOf(handle)) {
          pendingDeletes.set(handle, dropped?.user.sub ?? pendingDeletes.get(handle));
          schedule();
        }
      }
    },

    lookup(handle) {
      const inFlight = lookups.get(handle);
      if (inFlight) return inFlight;
      const read = (async () => {
        ctx.metrics?.syncEvents.inc({ event: 'miss' });
        const value = await backend.client.get(keys.session(handle));
        const session = decodeAlive(handle, value, ctx.clock.now());
        if (!session) {
          ctx.negative.set(handle, true);
          return undefined;
        }
        return applySession(ctx, session);
      })();
      lookups.set(handle, read);
      const forget = (): void => {
        lookups.delete(handle);
      };
      read.then(forget, forget);
      return read;
    },

    async resync() {
      if (mirror.bounded) {
        // no SCAN: what the working set held may have missed notifications, so it starts over and
        // refills from miss reads; the refresh queue in Redis, not the mirror, covers every session
        mirror.clear();
        ctx.emit({ kind: 'resync', sessions: 0 });
        return 0;
      }
      mirror.beginResync();
      let read = 0;
      const inFlight = new Set<Promise<void>>();
      const fetch = async (page: string[]): Promise<void> => {
        const values = await backend.getMany(page);
        const now = ctx.clock.now();
        page.forEach((key, index) => {
          const what = keys.classify(key);
          if (what.kind !== 'session') return;
          const session = decodeAlive(what.handle, values[index], now);
          if (session) {
            mirror.resyncRead(session);
            read++;
          }
        });
      };
      try {
        for await (const page of backend.scan(keys.sessionPattern, SCAN_COUNT)) {
          const task = fetch(page);
          inFlight.add(task);
          task.then(() => inFlight.delete(task), () => undefined);
          if (inFlight.size >= RESYNC_PARALLEL) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      } catch (error) {
        // reads still in flight must land while the resync still tracks what notifications said
        await Promise.allSettled(inFlight);
        mirror.abortResync();
        throw error;
      }
      const { dropped } = mirror.finishResync();
      if (dropped > 0) logger.info({ dropped }, 'resync dropped sessions that Redis no longer holds');
      ctx.emit({ kind: 'resync', sessions: mirror.size });
      return read;
    },
  };
}
