import { decodeTombstone, encodeTombstone } from './redis-codec.js';
import { applyTombstone, errorText, isReplyError, type StoreContext } from './redis-context.js';
import type { QueuedWrite } from './redis-outage-queue.js';
import { FORCE_TOMBSTONE, REMOVE, runScript } from './redis-scripts.js';
import type { Session, Tombstone, TombstoneReason } from './types.js';

/**
 * Deletions. With Redis up, each is one script that swaps the record for a tombstone. With Redis
 * away, the deletion takes effect in this replica's mirror at once (listeners hear the tombstone)
 * and is queued; the queue is written, oldest first, when Redis returns.
 */
export interface Removals {
  remove(handle: string, reason: TombstoneReason): Promise<Tombstone | undefined>;
  removeBySub(sub: string, reason: TombstoneReason): Promise<Tombstone[]>;
  removeByIdpSid(idpSid: string, reason: TombstoneReason): Promise<Tombstone[]>;
  /** Writes the queued deletions; throws (keeping the rest queued) when Redis drops again. */
  flushQueue(): Promise<void>;
}

type IndexKind = 'sub' | 'idpSid';
interface Match {
  kind: IndexKind;
  value: string;
}

export function createRemovals(ctx: StoreContext, options: { onQueued(): void }): Removals {
  const { keys, mirror, backend, logger } = ctx;
  const client = backend.client;

  const enqueue = (entry: QueuedWrite): void => {
    const dropped = ctx.queue.push(entry);
    if (dropped) {
      logger.error({ dropped: dropped.kind, limit: 'session.redis.outage_queue_limit' }, 'outage queue full: the oldest queued deletion was dropped');
    }
    options.onQueued();
  };

  const unindex = (tombstone: Tombstone): void => {
    const work = [client.srem(keys.bySub(tombstone.sub), tombstone.handle)];
    if (tombstone.idpSid !== undefined) work.push(client.srem(keys.byIdpSid(tombstone.idpSid), tombstone.handle));
    Promise.all(work).catch(() => undefined); // the indexes are pruned lazily anyway
  };

  /** One script; undefined when Redis holds no such (matching) session. Throws on connection problems. */
  const removeInRedis = async (
    handle: string,
    reason: TombstoneReason,
    at: number,
    only: { createdBefore?: number; match?: Match } = {},
  ): Promise<Tombstone | undefined> => {
    const args = [
      handle,
      reason,
      String(at),
      String(ctx.tombstoneTtlMs),
      only.createdBefore === undefined ? '' : String(only.createdBefore),
      only.match === undefined ? '' : only.match.kind === 'sub' ? 'sub' : 'sid',
      only.match?.value ?? '',
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

  /** Redis is away: end it in this mirror now, write it later. False when nothing was queued. */
  const removeLocally = (handle: string, reason: TombstoneReason, at: number, match?: Match): { tombstone?: Tombstone; queued: boolean } => {
    const session = mirror.get(handle);
    if (!session || (match && !matches(session, match))) {
      // an index-driven deletion queues the whole index operation instead (see removeByIndex)
      if (match) return { queued: false };
      enqueue({ kind: 'remove', handle, reason, at });
      return { queued: true };
    }
    const tombstone: Tombstone = { handle, sub: session.user.sub, reason, at };
    if (session.idpSid !== undefined) tombstone.idpSid = session.idpSid;
    applyTombstone(ctx, tombstone);
    enqueue({ kind: 'tombstone', tombstone });
    return { tombstone, queued: true };
  };

  const removeOne = async (handle: string, reason: TombstoneReason, at: number, match?: Match): Promise<{ tombstone?: Tombstone; failed: boolean }> => {
    if (ctx.connected()) {
      try {
        const tombstone = await removeInRedis(handle, reason, at, match ? { match } : {});
        return tombstone ? { tombstone, failed: false } : { failed: false };
      } catch (error) {
        const log = isReplyError(error) ? logger.error.bind(logger) : logger.warn.bind(logger);
        log({ handle, err: errorText(error) }, 'deletion could not be written now; it is queued');
      }
    }
    const local = removeLocally(handle, reason, at, match);
    return local.tombstone ? { tombstone: local.tombstone, failed: true } : { failed: true };
  };

  const matching = (match: Match): Session[] => [...mirror.values()].filter((s) => matches(s, match));

  const removeByIndex = async (kind: IndexKind, value: string, reason: TombstoneReason): Promise<Tombstone[]> => {
    const at = ctx.clock.now();
    const match: Match = { kind, value };
    const indexKey = kind === 'sub' ? keys.bySub(value) : keys.byIdpSid(value);
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
    const results = await Promise.all([...handles].map((handle) => removeOne(handle, reason, at, match)));
    if (members === undefined || results.some((r) => r.failed)) {
      // written when Redis returns, for every session of the user / IdP session that existed now
      enqueue(kind === 'sub' ? { kind: 'removeBySub', sub: value, reason, at } : { kind: 'removeByIdpSid', idpSid: value, reason, at });
    } else if (members.length > 0) {
      // every member is now removed, or was stale (gone, or its sub/sid changed)
      client.srem(indexKey, ...members).catch(() => undefined);
    }
    return results.flatMap((r) => (r.tombstone ? [r.tombstone] : []));
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
      case 'remove':
        await removeInRedis(entry.handle, entry.reason, entry.at);
        return;
      case 'removeBySub':
      case 'removeByIdpSid': {
        const indexKey = entry.kind === 'removeBySub' ? keys.bySub(entry.sub) : keys.byIdpSid(entry.idpSid);
        const match: Match = entry.kind === 'removeBySub' ? { kind: 'sub', value: entry.sub } : { kind: 'idpSid', value: entry.idpSid };
        const members = await client.smembers(indexKey);
        // only sessions that existed when the logout was taken
        for (const handle of members) await removeInRedis(handle, entry.reason, entry.at, { createdBefore: entry.at, match });
        return;
      }
    }
  };

  return {
    async remove(handle, reason) {
      return (await removeOne(handle, reason, ctx.clock.now())).tombstone;
    },
    removeBySub: (sub, reason) => removeByIndex('sub', sub, reason),
    removeByIdpSid: (idpSid, reason) => removeByIndex('idpSid', idpSid, reason),
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
        ctx.queue.shift();
      }
      if (written > 0) logger.info({ written }, 'queued deletions written after the outage');
    },
  };
}
