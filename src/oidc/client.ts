import * as client from 'openid-client';
import type { Config } from '../config/index.js';
import { GatewayError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../observability/logger.js';
import type { RefreshOutcome } from '../refresh/types.js';
import type { SessionUser } from '../session/types.js';
import { startDiscovery } from './discovery.js';
import { classifyRefreshError, loginError } from './errors.js';
import { createLogoutTokenVerifier } from './logout-token.js';
import { userFromClaims } from './session-record.js';
import type { LoginResult, LoginStart, LoginTransaction, LogoutSubject, OidcClient } from './types.js';
import { portcullisUrl } from './urls.js';

export interface OidcClientDeps {
  config: Config;
  logger: Logger;
  clock: Clock;
  /** fetch used for every IdP call (tests may wrap it) */
  fetch?: typeof fetch;
  /** tuning, mostly for tests */
  options?: {
    discoveryRetryInitialMs?: number;
    discoveryRetryMaxMs?: number;
    /** per IdP request; default 10s */
    requestTimeoutMs?: number;
  };
}

/** How long a login waits for a discovery attempt already under way. */
const LOGIN_DISCOVERY_WAIT_MS = 2000;

/** Claims that only make sense inside the ID token; they are not identity. */
const PROTOCOL_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash'];

export function createOidcClient(deps: OidcClientDeps): OidcClient {
  const { config, clock } = deps;
  const log = deps.logger.child({ component: 'oidc' });
  const redirectUri = portcullisUrl(config.server.public_url, '/.portcullis/callback');
  const requestTimeoutMs = deps.options?.requestTimeoutMs ?? 10_000;
  const discovery = startDiscovery({
    issuer: new URL(config.idp.issuer),
    clientId: config.idp.client_id,
    clientSecret: config.idp.client_secret,
    allowInsecureHttp: config.idp.allow_insecure_http,
    logger: deps.logger,
    fetch: deps.fetch,
    requestTimeoutSeconds: Math.max(1, Math.ceil(requestTimeoutMs / 1000)),
    retryInitialMs: deps.options?.discoveryRetryInitialMs ?? 500,
    retryMaxMs: deps.options?.discoveryRetryMaxMs ?? 30_000,
  });

  let verifier: ((jwt: string) => Promise<LogoutSubject>) | undefined;

  function configuration(): client.Configuration {
    const current = discovery.current();
    if (!current) throw notDiscovered();
    return current;
  }

  function notDiscovered(): GatewayError {
    return new GatewayError('IDP_UNAVAILABLE', 'The identity provider is not reachable yet. Please try again in a moment.');
  }

  function expiresAt(seconds: number | undefined): number | undefined {
    return typeof seconds === 'number' && Number.isFinite(seconds) ? clock.now() + seconds * 1000 : undefined;
  }

  async function startLogin(returnTo: URL): Promise<LoginStart> {
    const oidc = discovery.current() ?? (await discovery.settle(LOGIN_DISCOVERY_WAIT_MS));
    if (!oidc) throw notDiscovered();
    const codeVerifier = client.randomPKCECodeVerifier();
    const transaction: LoginTransaction = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier,
      returnTo: returnTo.href,
      createdAt: clock.now(),
    };
    const authorizationUrl = client.buildAuthorizationUrl(oidc, {
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: config.idp.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: transaction.state,
      nonce: transaction.nonce,
    });
    return { authorizationUrl, transaction };
  }

  async function completeLogin(currentUrl: URL, tx: LoginTransaction): Promise<LoginResult> {
    const oidc = configuration();
    try {
      // checks state, RFC 9207 iss (when the IdP advertises it), PKCE, and the ID token incl. nonce
      const response = await client.authorizationCodeGrant(oidc, currentUrl, {
        pkceCodeVerifier: tx.codeVerifier,
        expectedState: tx.state,
        expectedNonce: tx.nonce,
        idTokenExpected: true,
      });
      const idClaims = response.claims();
      if (!idClaims) throw new GatewayError('BAD_CALLBACK', 'The identity provider sent no ID token.');
      const claims = await identityClaims(oidc, idClaims, response.access_token);
      return {
        tokens: {
          accessToken: response.access_token,
          ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
          ...(response.id_token ? { idToken: response.id_token } : {}),
          tokenType: response.token_type,
        },
        sub: idClaims.sub,
        claims,
        ...(typeof idClaims.sid === 'string' ? { sid: idClaims.sid } : {}),
        accessTokenExpiresAt: expiresAt(response.expiresIn()),
      };
    } catch (error) {
      throw loginError(error);
    }
  }

  /** ID token claims merged with userinfo's when the IdP has a userinfo endpoint, as at login. */
  async function identityClaims(oidc: client.Configuration, idClaims: client.IDToken, accessToken: string): Promise<Record<string, unknown>> {
    const claims: Record<string, unknown> = { ...idClaims };
    if (oidc.serverMetadata().userinfo_endpoint) {
      // userinfo's sub must equal the ID token's (OIDC Core §5.3.2); openid-client checks it
      const userinfo = await client.fetchUserInfo(oidc, accessToken, idClaims.sub);
      Object.assign(claims, userinfo, { sub: idClaims.sub });
    }
    for (const name of PROTOCOL_CLAIMS) delete claims[name];
    return claims;
  }

  /**
   * The user a refresh's new ID token (validated by openid-client: iss, aud, exp, signature when
   * required) describes, with userinfo as at login. Undefined without an ID token, or when userinfo
   * fails: the refreshed tokens must still be written (a rotated refresh token is the only one left),
   * and the session keeps its claims until the next refresh.
   */
  async function refreshedUser(oidc: client.Configuration, response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers): Promise<SessionUser | undefined> {
    const idClaims = response.id_token ? response.claims() : undefined;
    if (!idClaims) return undefined;
    try {
      return userFromClaims(idClaims.sub, await identityClaims(oidc, idClaims, response.access_token), config.idp.groups_claim);
    } catch (error) {
      log.warn({ reason: classifyRefreshError(error).error }, 'userinfo after a refresh failed; the session keeps its claims');
      return undefined;
    }
  }

  async function refresh(refreshToken: string): Promise<RefreshOutcome> {
    try {
      const oidc = configuration();
      const response = await client.refreshTokenGrant(oidc, refreshToken);
      // before userinfo: expiresIn() counts down in whole seconds from the response's arrival
      const accessTokenExpiresAt = expiresAt(response.expiresIn());
      const user = await refreshedUser(oidc, response);
      return {
        kind: 'ok',
        tokens: {
          accessToken: response.access_token,
          // without rotation the old refresh token stays valid; the caller always gets the current one
          refreshToken: response.refresh_token ?? refreshToken,
          // undefined when the IdP sent none: keep the previous ID token
          ...(response.id_token ? { idToken: response.id_token } : {}),
          tokenType: response.token_type,
        },
        accessTokenExpiresAt,
        ...(user ? { user } : {}),
      };
    } catch (error) {
      const outcome = classifyRefreshError(error);
      log.info({ result: outcome.kind, reason: outcome.error }, 'token refresh failed');
      return outcome;
    }
  }

  function endSessionUrl(options: { idTokenHint?: string; postLogoutRedirectUri: string; state?: string }): string | undefined {
    const oidc = discovery.current();
    if (!oidc?.serverMetadata().end_session_endpoint) return undefined;
    const parameters: Record<string, string> = {
      post_logout_redirect_uri: options.postLogoutRedirectUri,
      client_id: config.idp.client_id,
    };
    if (options.idTokenHint) parameters.id_token_hint = options.idTokenHint;
    if (options.state) parameters.state = options.state;
    return client.buildEndSessionUrl(oidc, parameters).href;
  }

  async function verifyLogoutToken(jwt: string): Promise<LogoutSubject> {
    if (!verifier) {
      const server = configuration().serverMetadata();
      if (!server.jwks_uri) throw new GatewayError('IDP_UNAVAILABLE', 'The identity provider publishes no jwks_uri.');
      verifier = createLogoutTokenVerifier({
        issuer: server.issuer,
        clientId: config.idp.client_id,
        jwksUri: new URL(server.jwks_uri),
        algorithms: server.id_token_signing_alg_values_supported,
        clock,
        fetch: deps.fetch,
        timeoutMs: requestTimeoutMs,
      });
    }
    return verifier(jwt);
  }

  async function revoke(token: string, hint?: 'access_token' | 'refresh_token'): Promise<void> {
    const oidc = discovery.current();
    if (!oidc?.serverMetadata().revocation_endpoint) return;
    try {
      await client.tokenRevocation(oidc, token, hint ? { token_type_hint: hint } : undefined);
    } catch (error) {
      log.info({ reason: classifyRefreshError(error).error }, 'token revocation failed (ignored)');
    }
  }

  function metadata() {
    const server = discovery.current()?.serverMetadata();
    if (!server) return undefined;
    return {
      issuer: server.issuer,
      ...(server.jwks_uri ? { jwks_uri: server.jwks_uri } : {}),
      ...(server.introspection_endpoint ? { introspection_endpoint: server.introspection_endpoint } : {}),
    };
  }

  /** RFC 7662 as the gateway's client. An IdP that cannot answer is not the token's fault: 503, not 401. */
  async function introspect(token: string): Promise<Record<string, unknown>> {
    const oidc = configuration();
    try {
      return { ...(await client.tokenIntrospection(oidc, token, { token_type_hint: 'access_token' })) };
    } catch (error) {
      log.warn({ reason: classifyRefreshError(error).error }, 'token introspection failed');
      throw new GatewayError('IDP_UNAVAILABLE', 'The identity provider could not check the access token.', { cause: error });
    }
  }

  return {
    isReady: () => discovery.current() !== undefined,
    metadata,
    introspect,
    whenReady: async () => {
      await discovery.ready;
    },
    startLogin,
    completeLogin,
    refresh,
    endSessionUrl,
    verifyLogoutToken,
    revoke,
    close: async () => discovery.close(),
  };
}
