import { decodeTombstone, encodeTombstone } from './redis-codec.js';
import { applyTombstone, errorText, isReplyError, type StoreContext } from './redis-context.js';
import type { QueuedWrite } from './redis-outage-queue.js';
import { FORCE_TOMBSTONE, REMOVE, runScript } from './redis-scripts.js';
import type { RemoveByIdpSidOptions } from './store.js';
import type { Session, Tombstone, TombstoneReason } from './types.js';

/**
 * Deletions. With Redis up, each is one script that swaps the record for a tombstone. With Redis
 * away, the deletion takes effect in this replica's mirror at once (listeners hear the tombstone)
 * and is queued; the queue is written, oldest first, when Redis returns.
 *
 * An ended IdP sid (back-channel logout) also refuses logins that race it. A create cannot check
 * the `P e:<sid>` mark in its own script (in a Cluster the mark and the session live on different
 * slots), so both sides keep an order instead: a create adds its handle to the sid index, then
 * reads the mark, then runs its script; a logout sets the mark, then reads the index and ends
 * every member, leaving a tombstone where the record is not written yet. Whichever comes first,
 * the create either sees the mark or is found, and a found create meets a tombstone or is ended.
 */
export interface Removals {
  remove(handle: string, reason: TombstoneReason): Promise<Tombstone | undefined>;
  removeBySub(sub: string, reason: TombstoneReason): Promise<Tombstone[]>;
  removeByIdpSid(idpSid: string, reason: TombstoneReason, options?: RemoveByIdpSidOptions): Promise<Tombstone[]>;
  /** Writes the queued deletions; throws (keeping the rest queued) when Redis drops again. */
  flushQueue(): Promise<void>;
}

type IndexKind = 'sub' | 'idpSid';
interface Match {
  kind: IndexKind;
  value: string;
}
interface Only {
  createdBefore?: number;
  match?: Match;
  /** tombstone an index member whose record does not exist (yet) */
  preempt?: boolean;
}

export function createRemovals(ctx: StoreContext, options: { onQueued(): void }): Removals {
  const { keys, mirror, backend, logger } = ctx;
  const client = backend.client;

  const enqueue = (entry: QueuedWrite): void => {
    const dropped = ctx.queue.push(entry);
    if (dropped) {
      // the handle is the session's public name; subs and sids stay out of the log
      const handle = dropped.kind === 'tombstone' ? { handle: dropped.tombstone.handle } : {};
      logger.error(
        { dropped: dropped.kind, ...handle, limit: 'session.redis.outage_queue_limit' },
        'outage queue full: a queued deletion was dropped',
      );
    }
    options.onQueued();
  };

  const unindex = (tombstone: Tombstone): void => {
    const work = [client.srem(keys.bySub(tombstone.sub), tombstone.handle), client.zrem(keys.refreshQueue, tombstone.handle)];
    if (tombstone.idpSid !== undefined) work.push(client.srem(keys.byIdpSid(tombstone.idpSid), tombstone.handle));
    Promise.all(work).catch(() => undefined); // the indexes are pruned lazily anyway
  };

  /** One script; undefined when Redis holds no such (matching) session. Throws on connection problems. */
  const removeInRedis = async (handle: string, reason: TombstoneReason, at: number, only: Only = {}): Promise<Tombstone | undefined> => {
    const args = [
      handle,
      reason,
      String(at),
      String(ctx.tombstoneTtlMs),
      only.createdBefore === undefined ? '' : String(only.createdBefore),
      only.match === undefined ? '' : only.match.kind === 'sub' ? 'sub' : 'sid',
      only.match?.value ?? '',
      only.preempt && only.match?.kind === 'idpSid' ? '1' : '',
    ];
    const json = await runScript(client, REMOVE, keys.triple(handle), args);
    if (typeof json !== 'string') return undefined;
    const tombstone = decodeTombstone(json, handle);
    if (!tombstone) return undefined;
    applyTombstone(ctx, tombstone);
    unindex(tombstone);
    return tombstone;
  };

  const matches = (session: Session, match: Match): boolean =>
    match.kind === 'sub' ? session.user.sub === match.value : session.idpSid === match.value;

  /**
   * Redis is away: end it in this mirror now, write it later. A handle this mirror does not know
   * is not queued: it is no live session this replica can vouch for, and stale cookies signing
   * out again and again must not push real logouts out of the bounded queue.
   */
  const removeLocally = (handle: string, reason: TombstoneReason, at: number, match?: Match): Tombstone | undefined => {
    const session = mirror.get(handle);
    // an index-driven deletion queues the whole index operation instead (see removeByIndex)
    if (!session || (match && !matches(session, match))) return undefined;
    const tombstone: Tombstone = { handle, sub: session.user.sub, reason, at };
    if (session.idpSid !== undefined) tombstone.idpSid = session.idpSid;
    applyTombstone(ctx, tombstone);
    enqueue({ kind: 'tombstone', tombstone });
    return tombstone;
  };

  const removeOne = async (handle: string, reason: TombstoneReason, at: number, only: Only = {}): Promise<{ tombstone?: Tombstone; failed: boolean }> => {
    if (ctx.connected()) {
      try {
        const tombstone = await removeInRedis(handle, reason, at, only);
        return tombstone ? { tombstone, failed: false } : { failed: false };
      } catch (error) {
        const log = isReplyError(error) ? logger.error.bind(logger) : logger.warn.bind(logger);
        log({ handle, err: errorText(error) }, 'deletion could not be written now; it is queued if this replica knows the session');
      }
    }
    const tombstone = removeLocally(handle, reason, at, only.match);
    return tombstone ? { tombstone, failed: true } : { failed: true };
  };

  const matching = (match: Match): Session[] => [...mirror.values()].filter((s) => matches(s, match));

  const removeByIndex = async (match: Match, reason: TombstoneReason, at: number, refuseUntil?: number): Promise<Tombstone[]> => {
    const indexKey = match.kind === 'sub' ? keys.bySub(match.value) : keys.byIdpSid(match.value);
    let members: string[] | undefined;
    if (ctx.connected()) {
      try {
        members = await client.smembers(indexKey);
      } catch (error) {
        logger.warn({ err: errorText(error) }, 'index read failed; the deletion is queued');
      }
    }
    // the mirror too: an index key lost to eviction must not let a session survive a logout
    const handles = new Set([...(members ?? []), ...matching(match).map((s) => s.handle)]);
    const only: Only = { match, preempt: refuseUntil !== undefined };
    const results = await Promise.all([...handles].map((handle) => removeOne(handle, reason, at, only)));
    const ended = results.flatMap((r) => (r.tombstone ? [r.tombstone] : []));
    if (members === undefined || results.some((r) => r.failed)) {
      // written when Redis returns, for every session of the user / IdP session that existed now
      const endedHere = ended.length > 0;
      enqueue(
        match.kind === 'sub'
          ? { kind: 'removeBySub', sub: match.value, reason, at, endedHere }
          : { kind: 'removeByIdpSid', idpSid: match.value, reason, at, endedHere, ...(refuseUntil === undefined ? {} : { refuseUntil }) },
      );
    } else if (members.length > 0) {
      // every member is now removed, or was stale (gone, or its sub/sid changed)
      client.srem(indexKey, ...members).catch(() => undefined);
    }
    return ended;
  };

  /** The mark goes first: see the ordering argument at the top of this file. False when not written. */
  const markIdpSidEnded = async (idpSid: string, at: number, until: number): Promise<boolean> => {
    ctx.endedIdpSids.add(idpSid, until);
    if (!ctx.connected()) return false;
    try {
      await client.set(keys.endedIdpSid(idpSid), String(at), 'PX', Math.max(1, Math.ceil(until - ctx.clock.now())));
      return true;
    } catch (error) {
      logger.warn({ err: errorText(error) }, 'ended IdP session not marked now; the logout is queued');
      return false;
    }
  };

  const applyQueued = async (entry: QueuedWrite): Promise<void> => {
    switch (entry.kind) {
      case 'tombstone': {
        const { tombstone } = entry;
        await runScript(client, FORCE_TOMBSTONE, keys.triple(tombstone.handle), [
          encodeTombstone(tombstone),
          String(ctx.tombstoneTtlMs),
        ]);
        unindex(tombstone);
        return;
      }
      case 'removeBySub':
      case 'removeByIdpSid': {
        const refuseFor = entry.kind === 'removeByIdpSid' && entry.refuseUntil !== undefined ? entry.refuseUntil - ctx.clock.now() : 0;
        if (entry.kind === 'removeByIdpSid' && refuseFor >= 1) {
          await client.set(keys.endedIdpSid(entry.idpSid), String(entry.at), 'PX', Math.ceil(refuseFor));
        }
        const indexKey = entry.kind === 'removeBySub' ? keys.bySub(entry.sub) : keys.byIdpSid(entry.idpSid);
        const match: Match = entry.kind === 'removeBySub' ? { kind: 'sub', value: entry.sub } : { kind: 'idpSid', value: entry.idpSid };
        const members = await client.smembers(indexKey);
        // only sessions that existed when the logout was taken (and creates racing the mark)
        for (const handle of members) {
          await removeInRedis(handle, entry.reason, entry.at, { createdBefore: entry.at, match, preempt: refuseFor >= 1 });
        }
        return;
      }
    }
  };

  return {
    async remove(handle, reason) {
      return (await removeOne(handle, reason, ctx.clock.now())).tombstone;
    },
    removeBySub: (sub, reason) => removeByIndex({ kind: 'sub', value: sub }, reason, ctx.clock.now()),
    async removeByIdpSid(idpSid, reason, options) {
      const at = ctx.clock.now();
      const refuseFor = options?.refuseNewForMs;
      if (refuseFor === undefined || !(refuseFor > 0)) return removeByIndex({ kind: 'idpSid', value: idpSid }, reason, at);
      const until = at + refuseFor;
      const marked = await markIdpSidEnded(idpSid, at, until);
      const ended = await removeByIndex({ kind: 'idpSid', value: idpSid }, reason, at, until);
      // the mark is written when Redis returns (merged with the queued deletion, if there is one)
      if (!marked) enqueue({ kind: 'removeByIdpSid', idpSid, reason, at, endedHere: ended.length > 0, refuseUntil: until });
      return ended;
    },
    async flushQueue() {
      let written = 0;
      for (let entry = ctx.queue.peek(); entry !== undefined; entry = ctx.queue.peek()) {
        try {
          await applyQueued(entry);
          written++;
        } catch (error) {
          if (!isReplyError(error)) throw error;
          logger.error({ kind: entry.kind, err: errorText(error) }, 'a queued deletion was refused by Redis and dropped');
        }
        ctx.queue.done(entry);
      }
      if (written > 0) logger.info({ written }, 'queued deletions written after the outage');
    },
  };
}
