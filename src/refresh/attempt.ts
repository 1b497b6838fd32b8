import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { SKIP, type SessionStore } from '../session/store.js';
import { toSession, type Session, type SessionRecord } from '../session/types.js';
import type { TokenRefresher } from './types.js';
import { applyRefresh } from './write-back.js';

/**
 * One refresh of one session, the cross-replica protocol in one place: take the lease, read the
 * authoritative record, call the IdP, write the new tokens (and the user the new ID token names)
 * conditionally, end the session on a definitive refusal or a changed `sub`, release the lease.
 * The scheduler decides what happens next from the result.
 */
export type AttemptResult =
  /** another replica holds the lease */
  | { kind: 'busy' }
  /** no session, or nothing to refresh with */
  | { kind: 'gone' }
  /** logged out (or made non-refreshable) while the attempt ran */
  | { kind: 'cancelled' }
  /** the token was refreshed elsewhere since the entry was planned */
  | { kind: 'moved'; session: Session }
  | { kind: 'refreshed'; session: Session }
  /** the IdP answered, but the record's tokens had changed meanwhile: ours were not written */
  | { kind: 'superseded'; seen?: Session }
  /** refused for good: the session was ended with a `revoked` tombstone */
  | { kind: 'revoked' }
  | { kind: 'transient' }
  | { kind: 'error' };

export interface RefreshAttemptDeps {
  store: SessionStore;
  refresher: TokenRefresher;
  /** the scheduler's child logger */
  log: Logger;
  metrics: Metrics;
  replicaId: string;
  leaseTtlMs: number;
}

/**
 * `planned`: the access-token expiry the heap scheduler planned for (another one in the store
 * means someone refreshed: 'moved'), or, for the queue scheduler, `{ dueBy }`: refresh when the
 * record's token expires by then, else 'moved'.
 */
export type RefreshAttempt = (handle: string, planned: number | { dueBy: number }, cancelled: () => boolean) => Promise<AttemptResult>;

export function createRefreshAttempt(deps: RefreshAttemptDeps): RefreshAttempt {
  const { store, refresher, log, metrics, replicaId, leaseTtlMs } = deps;
  const count = (result: 'ok' | 'refused' | 'transient' | 'error'): void => metrics.tokenRefresh.inc({ result });

  return async function attempt(handle, planned, cancelled) {
    const lease = `refresh:${handle}`;
    let held = false;
    try {
      held = await store.acquireLease(lease, replicaId, leaseTtlMs);
      if (!held) return { kind: 'busy' };
      if (cancelled()) return { kind: 'cancelled' };
      const loaded = await store.load(handle);
      if (!loaded || !loaded.refreshable || loaded.accessTokenExpiresAt === undefined || !loaded.tokens.refreshToken) {
        return { kind: 'gone' };
      }
      // compared with the plan rather than with `now`: the plan's jitter fires before exp − ahead on purpose
      const exp = loaded.accessTokenExpiresAt;
      if (typeof planned === 'number' ? exp !== planned : exp > planned.dueBy) return { kind: 'moved', session: toSession(loaded) };
      if (cancelled()) return { kind: 'cancelled' };
      return await refresh(handle, loaded, loaded.tokens.refreshToken, cancelled);
    } catch (err) {
      count('error');
      log.error({ handle, error: describe(err) }, 'token refresh failed');
      return { kind: 'error' };
    } finally {
      if (held) {
        await store.releaseLease(lease, replicaId).catch((err: unknown) => {
          log.warn({ handle, error: describe(err) }, 'could not release the refresh lease; it lapses by itself');
        });
      }
    }
  };

  /** Ends a session for good with a `revoked` tombstone that reaches every replica. */
  async function end(handle: string): Promise<AttemptResult> {
    try {
      // idempotent: a session already logged out keeps its first tombstone (and was counted then)
      if (await store.remove(handle, 'revoked')) metrics.logouts.inc({ kind: 'revoked' });
    } catch (err) {
      // not retried: the IdP already refused this grant; any replica that tries it again ends it
      count('error');
      log.error({ handle, error: describe(err) }, 'could not end a session the IdP no longer vouches for');
    }
    return { kind: 'revoked' };
  }

  async function refresh(handle: string, loaded: SessionRecord, refreshToken: string, cancelled: () => boolean): Promise<AttemptResult> {
    const outcome = await refresher.refresh(refreshToken);
    switch (outcome.kind) {
      case 'ok': {
        if (outcome.user && outcome.user.sub !== loaded.user.sub) {
          // OIDC Core §12.2: a refreshed ID token names the same sub, or it is not this user's session
          count('refused');
          log.warn({ handle }, 'refreshed ID token names another subject; ending the session');
          return end(handle);
        }
        count('ok');
        // logged out meanwhile: nothing to write (the store would refuse it anyway)
        if (cancelled()) return { kind: 'cancelled' };
        let skipped = false;
        const written = await store.update(handle, (current) => {
          const next = applyRefresh(current, loaded.tokens, outcome);
          skipped = next === SKIP;
          return next;
        });
        if (written) {
          log.debug({ handle, claims: outcome.user ? 'updated' : 'kept' }, 'access token refreshed');
          return { kind: 'refreshed', session: toSession(written) };
        }
        if (!skipped) return { kind: 'gone' }; // a logout raced the refresh: the session stays dead
        const seen = store.peek(handle);
        return seen ? { kind: 'superseded', seen } : { kind: 'superseded' };
      }
      case 'refused':
        count('refused');
        log.info({ handle, error: outcome.error }, 'token refresh refused by the IdP; ending the session');
        return end(handle);
      case 'transient':
        count('transient');
        log.warn({ handle, error: outcome.error }, 'token refresh failed; will retry');
        return { kind: 'transient' };
    }
  }
}

/** An error's name and message only: no stack, no request objects that could carry tokens. */
export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}
