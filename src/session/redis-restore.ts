import { randomToken } from '../lib/random.js';
import { encodeView } from './redis-codec.js';
import { applySession, isAlive, type StoreContext } from './redis-context.js';
import { indexSession } from './redis-indexes.js';
import { CREATE, runScript } from './redis-scripts.js';
import type { Session } from './types.js';

/**
 * Redis that comes back empty (no persistence, a flush, a failover to an empty node) has lost
 * every session. The replicas still hold them in their mirrors, so they write them back rather
 * than sign everyone out: after the outage's queued deletions (so a logout stays a logout), with
 * the create script (never over a tombstone, never over what another replica restored first).
 * Mirrors hold no tokens, so a restored session carries none: it keeps working until its idle
 * or absolute end, is no longer refreshed, and its logout has no id_token_hint.
 *
 * The loss is seen through an epoch key: a random id written once (no TTL); a replica that finds
 * another id, or none, where it saw one before knows the data it relied on is gone.
 */
export interface Restorer {
  /** true when Redis no longer holds what this replica saw it hold */
  lostData(): Promise<boolean>;
  /** writes this replica's live sessions back; resolves to how many it wrote */
  restore(): Promise<number>;
}

const PARALLEL = 200;

export function createRestorer(ctx: StoreContext): Restorer {
  const client = ctx.backend.client;
  const epochKey = `${ctx.keys.prefix}epoch`;
  let known: string | undefined;

  const restoreOne = async (session: Session, now: number): Promise<boolean> => {
    const view: Session = { ...session, refreshable: false, version: session.version + 1 };
    const ttl = Math.min(view.expiresAt, view.lastSeenAt + ctx.idleTimeoutMs) - now;
    if (ttl < 1) return false;
    await indexSession(ctx, view, now);
    const sealed = ctx.cipher.seal({ accessToken: '' }, view.handle);
    const result = await runScript(client, CREATE, ctx.keys.triple(view.handle), [encodeView(view), sealed, String(ttl)]);
    if (result !== 'OK') return false;
    applySession(ctx, view);
    return true;
  };

  return {
    async lostData() {
      await client.set(epochKey, randomToken(12), 'NX');
      const current = (await client.get(epochKey)) ?? undefined;
      const lost = known !== undefined && current !== known;
      known = current;
      return lost;
    },
    async restore() {
      const now = ctx.clock.now();
      const sessions = [...ctx.mirror.values()].filter((s) => isAlive(s, now, ctx.idleTimeoutMs));
      let restored = 0;
      for (let i = 0; i < sessions.length; i += PARALLEL) {
        const done = await Promise.all(sessions.slice(i, i + PARALLEL).map((s) => restoreOne(s, now)));
        restored += done.filter(Boolean).length;
      }
      ctx.logger.warn({ restored, mirrored: sessions.length }, 'Redis lost its data: sessions restored from this replica\'s mirror, without tokens');
      return restored;
    },
  };
}
