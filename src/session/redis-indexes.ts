import type { StoreContext } from './redis-context.js';
import { INDEX_ADD, runScript } from './redis-scripts.js';
import type { Session } from './types.js';

/** index sets outlive their longest member by this much */
const INDEX_SLACK_MS = 60_000;

/**
 * `sub → handles` and `idp sid → handles`. Written before the session itself, so a logout by sub
 * or sid that reads an index after a create finds the session; members are pruned lazily.
 */
export async function indexSession(ctx: StoreContext, session: Session, now: number): Promise<void> {
  const ttl = String(Math.max(1, session.expiresAt - now) + INDEX_SLACK_MS);
  const work = [runScript(ctx.backend.client, INDEX_ADD, [ctx.keys.bySub(session.user.sub)], [session.handle, ttl])];
  if (session.idpSid !== undefined) work.push(runScript(ctx.backend.client, INDEX_ADD, [ctx.keys.byIdpSid(session.idpSid)], [session.handle, ttl]));
  await Promise.all(work);
}

/** After a write changed a session's sub or sid: best effort, the readers check anyway. */
export function unindexMoved(ctx: StoreContext, before: Session, after: Session): void {
  const client = ctx.backend.client;
  if (before.user.sub !== after.user.sub) client.srem(ctx.keys.bySub(before.user.sub), before.handle).catch(() => undefined);
  if (before.idpSid !== undefined && before.idpSid !== after.idpSid) client.srem(ctx.keys.byIdpSid(before.idpSid), before.handle).catch(() => undefined);
}
