import { createHash } from 'node:crypto';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import { cacheTtlMs, claimProblem, CLOCK_TOLERANCE_SECONDS, principalFrom, type BearerPrincipal } from './access-token-claims.js';

export type { BearerPrincipal };

/**
 * `Authorization: Bearer` access tokens from the IdP. A JWT (RFC 9068, typ at+jwt) is checked
 * locally against the IdP's JWKS; anything else goes to RFC 7662 introspection. Answers are
 * cached briefly by a digest of the token (never the token), bad ones too, to shield the IdP.
 */

/** What the verifier needs from the IdP; src/oidc/client.ts implements it with openid-client. */
export interface AccessTokenIdp {
  /** undefined until discovery succeeded */
  metadata(): { issuer: string; jwks_uri?: string; introspection_endpoint?: string } | undefined;
  /** RFC 7662 introspection as the gateway's client; throws GatewayError IDP_UNAVAILABLE when it cannot tell */
  introspect(token: string): Promise<Record<string, unknown>>;
}

export interface AccessTokenVerifierDeps {
  idp: AccessTokenIdp;
  /** idp.access_token_audiences in force (a reload may change them) */
  audiences: () => readonly string[];
  groupsClaim: string;
  clock: Clock;
  fetch?: typeof fetch;
  /** a key set instead of the IdP's jwks_uri (tests) */
  keys?: JWTVerifyGetKey;
  /** longest a good answer is reused (default 30s; never past the token's exp) */
  cacheTtlMs?: number;
  /** how long a refused token is refused without asking again (default 10s) */
  negativeTtlMs?: number;
  cacheSize?: number;
  timeoutMs?: number;
}

export type BearerOutcome = { ok: true; principal: BearerPrincipal } | { ok: false; description: string };

export interface AccessTokenVerifier {
  verify(token: string): Promise<BearerOutcome>;
}

/** Asymmetric only: `none` and HS* (a key the IdP shares with every client) never verify an access token. */
export const ACCESS_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
/** Bigger than any access token an IdP issues; not worth hashing or sending on. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** RFC 6750 §2.1 b64token */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

type Answer = { claims: Record<string, unknown>; structured: boolean } | { refused: string };

export function createAccessTokenVerifier(deps: AccessTokenVerifierDeps): AccessTokenVerifier {
  const { clock } = deps;
  const maxTtl = deps.cacheTtlMs ?? 30_000;
  const negativeTtl = deps.negativeTtlMs ?? 10_000;
  // ttlResolution 0: lru-cache otherwise reuses one clock reading for a millisecond of real time
  const cache = new LRUCache<string, Answer>({ max: deps.cacheSize ?? 10_000, ttl: maxTtl, perf: clock, ttlResolution: 0 });
  // concurrent requests with one token share one verification (one introspection call)
  const inFlight = new Map<string, Promise<Answer>>();
  let remoteKeys: { uri: string; keys: JWTVerifyGetKey } | undefined;

  function keysFor(jwksUri: string | undefined): JWTVerifyGetKey {
    if (deps.keys) return deps.keys;
    if (!jwksUri) throw new GatewayError('IDP_UNAVAILABLE', 'The identity provider publishes no jwks_uri.');
    if (remoteKeys?.uri !== jwksUri) {
      // jose caches the set (refetched after 10 min, or on an unknown kid at most every 30s)
      const keys = createRemoteJWKSet(new URL(jwksUri), {
        timeoutDuration: deps.timeoutMs ?? 5000,
        cooldownDuration: 30_000,
        ...(deps.fetch ? { [customFetch]: deps.fetch } : {}),
      });
      remoteKeys = { uri: jwksUri, keys };
    }
    return remoteKeys.keys;
  }

  async function verifyJwt(token: string, issuer: string, jwksUri: string | undefined): Promise<Answer> {
    try {
      const { payload } = await jwtVerify(token, keysFor(jwksUri), {
        issuer,
        algorithms: ACCESS_TOKEN_ALGORITHMS,
        // RFC 9068 §4: typ must be at+jwt (jose also accepts application/at+jwt)
        typ: 'at+jwt',
        requiredClaims: ['exp', 'aud'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(clock.now()),
      });
      return { claims: payload as Record<string, unknown>, structured: true };
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      if (error instanceof joseErrors.JWKSTimeout || isNetworkError(error)) {
        throw new GatewayError('IDP_UNAVAILABLE', 'The identity provider keys could not be fetched.', { cause: error });
      }
      return { refused: describe(error) };
    }
  }

  async function introspect(token: string, metadata: { introspection_endpoint?: string }): Promise<Answer> {
    if (!metadata.introspection_endpoint) return { refused: 'opaque tokens cannot be checked with this identity provider' };
    const response = await deps.idp.introspect(token);
    if (response.active !== true) return { refused: 'token is not active' };
    // RFC 7662 makes token_type optional, but an answer without it may be a refresh token (oidc-provider
    // omits it for exactly those): only an answer that says "Bearer" is an access token we accept
    const type = response.token_type;
    if (typeof type !== 'string' || type.toLowerCase() !== 'bearer') return { refused: 'token is not a bearer access token' };
    return { claims: response, structured: false };
  }

  async function answerFor(token: string, key: string): Promise<Answer> {
    const metadata = deps.idp.metadata();
    if (!metadata) throw new GatewayError('IDP_UNAVAILABLE', 'The identity provider is not reachable yet. Please try again in a moment.');
    const answer = looksLikeJws(token) ? await verifyJwt(token, metadata.issuer, metadata.jwks_uri) : await introspect(token, metadata);
    const now = clock.now();
    if ('refused' in answer) cache.set(key, answer, { ttl: negativeTtl });
    else cache.set(key, answer, { ttl: cacheTtlMs(answer.claims, now, maxTtl) });
    return answer;
  }

  async function verify(token: string): Promise<BearerOutcome> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token)) {
      return { ok: false, description: 'malformed token' };
    }
    const key = createHash('sha256').update(token).digest('base64url');
    let answer = cache.get(key);
    if (!answer) {
      let pending = inFlight.get(key);
      if (!pending) {
        pending = answerFor(token, key).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      answer = await pending;
    }
    if ('refused' in answer) return { ok: false, description: answer.refused };
    const issuer = deps.idp.metadata()?.issuer ?? '';
    const problem = claimProblem(answer.claims, { issuer, audiences: deps.audiences(), now: clock.now(), structured: answer.structured });
    if (problem) return { ok: false, description: problem };
    return { ok: true, principal: principalFrom(answer.claims, deps.groupsClaim, key) };
  }

  return { verify };
}

/** Three base64url parts with a JSON header: a JWS. A JWE (five parts) or anything else is opaque. */
function looksLikeJws(token: string): boolean {
  if (token.split('.').length !== 3) return false;
  try {
    decodeProtectedHeader(token);
    return true;
  } catch {
    return false;
  }
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'typ') return 'token is not an access token (typ must be at+jwt)';
    if (error.claim === 'nbf') return 'token not yet valid';
    return `token ${error.claim} is not accepted`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'token signing algorithm is not accepted';
  return 'token signature or format is invalid';
}

function isNetworkError(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) ||
    (error instanceof joseErrors.JOSEError && error.code === 'ERR_JOSE_GENERIC' && error.message.includes('JSON Web Key Set'))
  );
}
