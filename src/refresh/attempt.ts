import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { SKIP, type SessionStore } from '../session/store.js';
import { toSession, type Session, type SessionRecord, type SessionTokens } from '../session/types.js';
import type { TokenRefresher } from './types.js';

/**
 * One refresh of one session, the cross-replica protocol in one place: take the lease, read the
 * authoritative record, call the IdP, write the new tokens conditionally, end the session on a
 * definitive refusal, release the lease. The scheduler decides what happens next from the result.
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

export type RefreshAttempt = (handle: string, plannedExp: number, cancelled: () => boolean) => Promise<AttemptResult>;

export function createRefreshAttempt(deps: RefreshAttemptDeps): RefreshAttempt {
  const { store, refresher, log, metrics, replicaId, leaseTtlMs } = deps;
  const count = (result: 'ok' | 'refused' | 'transient' | 'error'): void => metrics.tokenRefresh.inc({ result });

  return async function attempt(handle, plannedExp, cancelled) {
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
      if (loaded.accessTokenExpiresAt !== plannedExp) return { kind: 'moved', session: toSession(loaded) };
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

  async function refresh(handle: string, loaded: SessionRecord, refreshToken: string, cancelled: () => boolean): Promise<AttemptResult> {
    const outcome = await refresher.refresh(refreshToken);
    switch (outcome.kind) {
      case 'ok': {
        count('ok');
        // logged out meanwhile: nothing to write (the store would refuse it anyway)
        if (cancelled()) return { kind: 'cancelled' };
        let skipped = false;
        const written = await store.update(handle, (current) => {
          // Only on top of the tokens we refreshed from. Not a version compare: a touch in between
          // bumps the version, and dropping a rotated refresh token for it would kill the session.
          skipped = !sameTokens(current.tokens, loaded.tokens);
          if (skipped) return SKIP;
          return { ...current, tokens: mergeTokens(current.tokens, outcome.tokens), accessTokenExpiresAt: outcome.accessTokenExpiresAt };
        });
        if (written) {
          log.debug({ handle }, 'access token refreshed');
          return { kind: 'refreshed', session: toSession(written) };
        }
        if (!skipped) return { kind: 'gone' }; // a logout raced the refresh: the session stays dead
        const seen = store.peek(handle);
        return seen ? { kind: 'superseded', seen } : { kind: 'superseded' };
      }
      case 'refused':
        count('refused');
        log.info({ handle, error: outcome.error }, 'token refresh refused by the IdP; ending the session');
        try {
          // idempotent: a session already logged out keeps its first tombstone
          await store.remove(handle, 'revoked');
        } catch (err) {
          // not retried: the IdP already refused this grant; any replica that tries it again ends it
          count('error');
          log.error({ handle, error: describe(err) }, 'could not end a session whose refresh was refused');
        }
        return { kind: 'revoked' };
      case 'transient':
        count('transient');
        log.warn({ handle, error: outcome.error }, 'token refresh failed; will retry');
        return { kind: 'transient' };
    }
  }
}

function sameTokens(a: SessionTokens, b: SessionTokens): boolean {
  return a.accessToken === b.accessToken && a.refreshToken === b.refreshToken;
}

/** An IdP may omit a new refresh token or ID token from a refresh response: keep the ones held. */
export function mergeTokens(held: SessionTokens, fresh: SessionTokens): SessionTokens {
  return {
    ...held,
    ...fresh,
    refreshToken: fresh.refreshToken ?? held.refreshToken,
    idToken: fresh.idToken ?? held.idToken,
    tokenType: fresh.tokenType ?? held.tokenType,
  };
}

/** An error's name and message only: no stack, no request objects that could carry tokens. */
export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}
