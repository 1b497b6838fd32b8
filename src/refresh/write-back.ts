import { SKIP } from '../session/store.js';
import type { SessionRecord, SessionTokens } from '../session/types.js';
import type { RefreshOutcome } from './types.js';

type Refreshed = Extract<RefreshOutcome, { kind: 'ok' }>;

/**
 * What a successful refresh writes over the session as the store holds it now: the new tokens
 * and, when the IdP sent a new ID token, the user it describes (groups and claims follow the IdP
 * at every refresh instead of being frozen at login). SKIP when the record's tokens are no longer
 * the ones refreshed from. Not a version compare: a touch in between bumps the version, and
 * dropping a rotated refresh token for it would kill the session.
 *
 * The caller has already refused a user with another `sub` (OIDC Core §12.2): `sub` never
 * changes within a session. The IdP session id is kept: logout indexes are keyed on it.
 */
export function applyRefresh(current: SessionRecord, refreshedFrom: SessionTokens, outcome: Refreshed): SessionRecord | typeof SKIP {
  if (!sameTokens(current.tokens, refreshedFrom)) return SKIP;
  const next: SessionRecord = {
    ...current,
    tokens: mergeTokens(current.tokens, outcome.tokens),
    accessTokenExpiresAt: outcome.accessTokenExpiresAt,
  };
  if (outcome.user && outcome.user.sub === current.user.sub) next.user = outcome.user;
  return next;
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
