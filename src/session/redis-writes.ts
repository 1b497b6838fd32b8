import { encodeBody, encodeView, int } from './redis-codec.js';
import { applySession, errorText, type StoreContext } from './redis-context.js';
import { indexSession, unindexMoved } from './redis-indexes.js';
import { isValidHandle } from './redis-keys.js';
import { enqueueRefresh, queueScore, requeueAfterWrite } from './redis-refresh-queue.js';
import { CREATE, LEASE_ACQUIRE, LEASE_RELEASE, runScript, TOUCH, UPDATE } from './redis-scripts.js';
import { IdpSessionEndedError, SKIP, type SessionStore } from './store.js';
import { toSession, type SessionRecord } from './types.js';

type Writes = Pick<SessionStore, 'create' | 'update' | 'touch' | 'acquireLease' | 'releaseLease' | 'claimOnce'>;

const UPDATE_ATTEMPTS = 5;

/**
 * Writes: each one conditional script (see redis-scripts.ts). While Redis is away, create and
 * update fail with STORE_UNAVAILABLE (a new login gets a clear 503: a session that only this
 * replica knew would be unknown to the others and lost on restart), touch moves only this
 * replica's mirror, and no lease is granted (a refresh could not be stored).
 */
export function createWrites(
  ctx: StoreContext,
  load: (handle: string) => Promise<SessionRecord | undefined>,
  guard: <T>(work: () => Promise<T>) => Promise<T>,
): Writes {
  const { keys, mirror, logger } = ctx;
  const client = ctx.backend.client;

  return {
    async create(input) {
      if (!isValidHandle(input.handle)) throw new TypeError('session handle must be base64url');
      const record = structuredClone(input);
      const session = toSession(record);
      const now = ctx.clock.now();
      const ttl = Math.min(session.expiresAt, session.lastSeenAt + ctx.idleTimeoutMs) - now;
      const view = encodeView(session);
      const sealed = ctx.cipher.seal(record.tokens, record.handle);
      const { idpSid } = session;
      if (idpSid !== undefined && ctx.endedIdpSids.has(idpSid, now)) throw new IdpSessionEndedError();
      const sidEnded = async (): Promise<boolean> => idpSid !== undefined && (await client.exists(keys.endedIdpSid(idpSid))) === 1;
      const result = await guard(async () => {
        await indexSession(ctx, session, now);
        // index first, then the mark, then the record: see the ordering argument in redis-removals.ts
        if (await sidEnded()) return 'SID_ENDED';
        // the refresh queue's member before the record too (redis-refresh-queue.ts)
        const score = queueScore(session);
        if (score !== undefined && ttl >= 1) await enqueueRefresh(ctx, session.handle, score);
        return ttl < 1 ? 'ENDED' : await runScript(client, CREATE, keys.triple(record.handle), [view, sealed, String(ttl)]);
      });
      if (result === 'ENDED') return; // already over: nothing to keep
      // a fresh handle is tombstoned only by a logout of its IdP sid that found it in the index
      if (result === 'SID_ENDED' || (result === 'TOMBSTONED' && (await guard(sidEnded)))) throw new IdpSessionEndedError();
      if (result !== 'OK') throw new Error(result === 'TOMBSTONED' ? 'session handle was deleted' : 'session handle already exists');
      applySession(ctx, session);
    },

    async update(handle, mutate) {
      if (!isValidHandle(handle)) return undefined;
      for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
        const current = await load(handle);
        if (!current) return undefined;
        const next = mutate(structuredClone(current));
        if (next === SKIP) return undefined;
        const now = ctx.clock.now();
        const written: SessionRecord = { ...structuredClone(next), handle, version: current.version + 1 };
        const result = await guard(async () => {
          if (written.user.sub !== current.user.sub || written.idpSid !== current.idpSid || written.expiresAt !== current.expiresAt) {
            await indexSession(ctx, toSession(written), now);
          }
          return await runScript(client, UPDATE, keys.triple(handle), [
            int(current.version),
            int(written.version),
            int(written.lastSeenAt),
            int(written.expiresAt),
            encodeBody(toSession(written)),
            String(now),
            String(ctx.idleTimeoutMs),
            ctx.cipher.seal(written.tokens, handle),
          ]);
        });
        if (result === 'CONFLICT') continue;
        if (!Array.isArray(result) || result[0] !== 'OK') return undefined;
        written.lastSeenAt = Number(result[1]);
        unindexMoved(ctx, current, written);
        if (queueScore(written) !== queueScore(current)) requeueAfterWrite(ctx, written);
        applySession(ctx, toSession(structuredClone(written)), false);
        return written;
      }
      throw new Error(`session update kept conflicting after ${UPDATE_ATTEMPTS} attempts`);
    },

    async touch(handle, lastSeenAt) {
      if (!isValidHandle(handle)) return;
      const now = ctx.clock.now();
      const known = mirror.get(handle);
      // this replica's view moves at once, so its idle check holds even while Redis is away
      if (known && lastSeenAt > known.lastSeenAt && now < Math.min(known.expiresAt, known.lastSeenAt + ctx.idleTimeoutMs)) {
        mirror.apply({ ...known, lastSeenAt });
      }
      if (!ctx.connected()) return;
      try {
        await runScript(client, TOUCH, keys.triple(handle), [int(lastSeenAt), String(now), String(ctx.idleTimeoutMs)]);
      } catch (error) {
        logger.debug({ err: errorText(error) }, 'touch not written');
      }
    },

    async acquireLease(name, owner, ttlMs) {
      if (!ctx.connected()) return false;
      try {
        return (await runScript(client, LEASE_ACQUIRE, [keys.lease(name)], [owner, String(Math.max(1, Math.ceil(ttlMs)))])) === 1;
      } catch (error) {
        logger.debug({ err: errorText(error) }, 'lease not acquired');
        return false;
      }
    },

    async claimOnce(name, ttlMs) {
      const now = ctx.clock.now();
      const ms = Math.max(1, Math.ceil(ttlMs));
      // this replica remembers its own claims too: a replay to it is refused even while Redis is away
      if (!ctx.claims.claim(name, now, now + ms)) return false;
      if (!ctx.connected()) {
        logger.warn('one-time claim checked on this replica only: Redis is unreachable');
        return true;
      }
      try {
        return (await client.set(keys.claim(name), String(now), 'PX', ms, 'NX')) === 'OK';
      } catch (error) {
        logger.warn({ err: errorText(error) }, 'one-time claim checked on this replica only: Redis did not answer');
        return true;
      }
    },

    async releaseLease(name, owner) {
      if (!ctx.connected()) return;
      await runScript(client, LEASE_RELEASE, [keys.lease(name)], [owner]).catch(() => undefined);
    },
  };
}
