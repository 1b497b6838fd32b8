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

  /** One script; undefined when Redis holds no such record. Throws on connection problems. */
  const removeInRedis = async (handle: string, reason: TombstoneReason, at: number, createdBefore?: number): Promise<Tombstone | undefined> => {
    const args = [handle, reason, String(at), String(ctx.tombstoneTtlMs)];
    if (createdBefore !== undefined) args.push(String(createdBefore));
    const json = await runScript(client, REMOVE, [keys.session(handle), keys.tombstone(handle)], args);
    if (typeof json !== 'string') return undefined;
    const tombstone = decodeTombstone(json, handle);
    if (!tombstone) return undefined;
    applyTombstone(ctx, tombstone);
    unindex(tombstone);
    return tombstone;
  };

  const removeLocally = (handle: string, reason: TombstoneReason, at: number): Tombstone | undefined => {
    const session = mirror.get(handle);
    if (!session) {
      enqueue({ kind: 'remove', handle, reason, at });
      return undefined;
    }
    const tombstone: Tombstone = { handle, sub: session.user.sub, reason, at };
    if (session.idpSid !== undefined) tombstone.idpSid = session.idpSid;
    applyTombstone(ctx, tombstone);
    enqueue({ kind: 'tombstone', tombstone });
    return tombstone;
  };

  const removeOne = async (handle: string, reason: TombstoneReason, at: number): Promise<Tombstone | undefined> => {
    if (ctx.connected()) {
      try {
        return await removeInRedis(handle, reason, at);
      } catch (error) {
        const log = isReplyError(error) ? logger.error.bind(logger) : logger.warn.bind(logger);
        log({ handle, err: errorText(error) }, 'deletion could not be written now; it is queued');
      }
    }
    return removeLocally(handle, reason, at);
  };

  const matching = (kind: IndexKind, value: string): Session[] =>
    [...mirror.values()].filter((s) => (kind === 'sub' ? s.user.sub === value : s.idpSid === value));

  const removeByIndex = async (kind: IndexKind, value: string, reason: TombstoneReason): Promise<Tombstone[]> => {
    const at = ctx.clock.now();
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
    const handles = new Set([...(members ?? []), ...matching(kind, value).map((s) => s.handle)]);
    const results = await Promise.all([...handles].map((handle) => removeOne(handle, reason, at)));
    if (members === undefined) {
      enqueue(kind === 'sub' ? { kind: 'removeBySub', sub: value, reason, at } : { kind: 'removeByIdpSid', idpSid: value, reason, at });
    } else if (members.length > 0) {
      client.srem(indexKey, ...members).catch(() => undefined);
    }
    return results.filter((t): t is Tombstone => t !== undefined);
  };

  const applyQueued = async (entry: QueuedWrite): Promise<void> => {
    switch (entry.kind) {
      case 'tombstone': {
        const { tombstone } = entry;
        await runScript(client, FORCE_TOMBSTONE, [keys.session(tombstone.handle), keys.tombstone(tombstone.handle)], [
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
        const members = await client.smembers(indexKey);
        // only sessions that existed when the logout was taken
        for (const handle of members) await removeInRedis(handle, entry.reason, entry.at, entry.at);
        return;
      }
    }
  };

  return {
    async remove(handle, reason) {
      return await removeOne(handle, reason, ctx.clock.now());
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
