import type { TokenRefresher } from '../refresh/types.js';
import type { AccessTokenIdp } from './access-tokens.js';
import type { SessionTokens } from '../session/types.js';

/** One login attempt, bound to the browser that started it (see transaction.ts). */
export interface LoginTransaction {
  state: string;
  nonce: string;
  /** PKCE S256 code verifier */
  codeVerifier: string;
  /** absolute URL to send the browser back to after the callback */
  returnTo: string;
  /** ms since epoch */
  createdAt: number;
}

export interface LoginStart {
  authorizationUrl: URL;
  transaction: LoginTransaction;
}

/** What a completed authorization code flow yields. */
export interface LoginResult {
  tokens: SessionTokens;
  sub: string;
  /** ID token claims merged with userinfo claims (userinfo wins, `sub` is checked to match) */
  claims: Record<string, unknown>;
  /** the IdP session id (`sid` claim), when the IdP sends one */
  sid?: string;
  /** ms since epoch, when the token response said how long the access token lives */
  accessTokenExpiresAt?: number;
}

/** Subject of a verified back-channel logout token: `sid`, `sub` or both. */
export interface LogoutSubject {
  sub?: string;
  sid?: string;
  /** what identifies the token itself, for the replay guard (§2.4: jti is REQUIRED) */
  token: {
    iss: string;
    jti: string;
    /** how long the verifier would still accept this token: the replay guard keeps the jti that long */
    acceptedForMs: number;
  };
}

/** The gateway's view of its OpenID Provider. The only code that uses openid-client. */
export interface OidcClient extends TokenRefresher, AccessTokenIdp {
  /** true once discovery has succeeded (it never turns false again) */
  isReady(): boolean;
  /** resolves on the first successful discovery; rejects if the client is closed before */
  whenReady(): Promise<void>;
  /** Builds the authorization request (code + PKCE S256 + state + nonce). GW_IDP_UNAVAILABLE before discovery. */
  startLogin(returnTo: URL): Promise<LoginStart>;
  /**
   * Validates the authorization response at `currentUrl` (state, RFC 9207 `iss`), redeems the
   * code, validates the ID token (nonce, iss, aud, signature) and merges userinfo.
   * Throws GatewayError: BAD_CALLBACK for a response that fails validation or a refused code,
   * IDP_UNAVAILABLE when the IdP cannot be reached.
   */
  completeLogin(currentUrl: URL, transaction: LoginTransaction): Promise<LoginResult>;
  /** RP-Initiated Logout URL, or undefined when the IdP has no end_session_endpoint (or is not discovered). */
  endSessionUrl(options: { idTokenHint?: string; postLogoutRedirectUri: string; state?: string }): string | undefined;
  /** Back-Channel Logout 1.0 §2.6 validation. Throws LogoutTokenError (invalid) or GatewayError IDP_UNAVAILABLE. */
  verifyLogoutToken(jwt: string): Promise<LogoutSubject>;
  /** Best-effort token revocation (RFC 7009); never throws. */
  revoke(token: string, hint?: 'access_token' | 'refresh_token'): Promise<void>;
  /** Stops background discovery. */
  close(): Promise<void>;
}
