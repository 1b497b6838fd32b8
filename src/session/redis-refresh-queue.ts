import { script, runScript } from '../redis/scripts.js';
import { errorText, type StoreContext } from './redis-context.js';
import type { RefreshQueue } from './store.js';
import type { Session } from './types.js';

/**
 * The refresh queue: one sorted set `P r` of handle → score, where the score is the session's
 * access-token expiry (or a retry time, on the same scale). It is what lets replicas whose mirror
 * holds only a working set (session.redis.mirror_max_sessions) still refresh every session, each
 * on exactly one replica: a replica claims due members with one script that also pushes them out
 * by a hold time, so no other replica is handed them meanwhile; one that dies holding them lets the
 * hold run out. Every store writes it, bounded or not, so a deployment can switch modes.
 *
 * Cluster: the set is one key on its own slot, so it cannot be written inside the session scripts
 * (those stay on the session's {handle} slot). The order makes up for it: a create adds its member
 * before its record (a crash leaves a member without a record, which its claimer drops), an update
 * moves its member after its record (a crash leaves an earlier score, which its claimer corrects).
 * A member is thus never later than its session's real due time.
 */

/** members whose score lies this far in the past belong to sessions nobody claimed: gone, or never bounded */
const PRUNE_AFTER_MS = 24 * 3_600_000;

/** KEYS[1] = queue. ARGV: handle, score, prune-before. */
const QUEUE_ADD = script(
  'refresh-queue-add',
  `redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
return 1`,
);

/**
 * KEYS[1] = queue. ARGV: due-by score, hold score, max. → { {handle, score, …}, {next handle, next score} | {} }
 * The claimed members get the hold score, so the same member is handed to one replica at a time.
 */
const QUEUE_CLAIM = script(
  'refresh-queue-claim',
  `local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #due, 2 do redis.call('ZADD', KEYS[1], ARGV[2], due[i]) end
return {due, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')}`,
);

const int = (n: number): string => String(Math.floor(n));

/** The member a session should have: its token expiry, or none when it cannot be refreshed. */
export function queueScore(session: Session): number | undefined {
  return session.refreshable && session.accessTokenExpiresAt !== undefined ? session.accessTokenExpiresAt : undefined;
}

export async function enqueueRefresh(ctx: StoreContext, handle: string, score: number): Promise<void> {
  await runScript(ctx.backend.client, QUEUE_ADD, [ctx.keys.refreshQueue], [handle, int(score), int(ctx.clock.now() - PRUNE_AFTER_MS)]);
}

/** After an update: move the member (or drop it); best effort, see the order argument above. */
export function requeueAfterWrite(ctx: StoreContext, session: Session): void {
  const score = queueScore(session);
  const work = score === undefined ? ctx.backend.client.zrem(ctx.keys.refreshQueue, session.handle) : enqueueRefresh(ctx, session.handle, score);
  work.catch((error: unknown) => ctx.logger.debug({ err: errorText(error) }, 'refresh queue not updated'));
}

export function createRefreshQueue(ctx: StoreContext): RefreshQueue {
  const client = ctx.backend.client;
  return {
    async claim(dueBy, holdUntil, max) {
      const reply = (await runScript(client, QUEUE_CLAIM, [ctx.keys.refreshQueue], [int(dueBy), int(holdUntil), int(max)])) as [string[], string[]];
      const [due, next] = reply;
      const claimed: { handle: string; score: number }[] = [];
      for (let i = 0; i + 1 < due.length; i += 2) claimed.push({ handle: due[i]!, score: Number(due[i + 1]) });
      return next.length >= 2 ? { claimed, next: Number(next[1]) } : { claimed };
    },
    schedule: (handle, score) => enqueueRefresh(ctx, handle, score),
    async unschedule(handle) {
      await client.zrem(ctx.keys.refreshQueue, handle);
    },
  };
}
