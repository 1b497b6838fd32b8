import type { SessionTokens, SessionUser } from '../session/types.js';

/** What a token refresh at the IdP returned. */
export type RefreshOutcome =
  | {
      kind: 'ok';
      tokens: SessionTokens;
      accessTokenExpiresAt?: number;
      /**
       * Who the IdP now says the user is, from the refresh's new (validated) ID token and, when the
       * login uses it, userinfo. Absent when the IdP sent no ID token: the session keeps its claims.
       */
      user?: SessionUser;
    }
  /** the IdP said no for good (invalid_grant, invalid_client, unauthorized_client …): never retry */
  | { kind: 'refused'; error: string }
  /** network, 5xx, timeout, IdP not discovered yet: retry with backoff */
  | { kind: 'transient'; error: string };

/** Implemented by oidc/ (the only openid-client importer), injected into the scheduler. */
export interface TokenRefresher {
  refresh(refreshToken: string): Promise<RefreshOutcome>;
}
