import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { GatewayError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import { LogoutTokenError } from './errors.js';
import type { LogoutSubject } from './types.js';

/**
 * OpenID Connect Back-Channel Logout 1.0 §2.6: validating a Logout Token. The signature is
 * checked against the IdP's jwks_uri (cached by jose, refetched on an unknown kid).
 */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Explicit typing (§2.4) is accepted; so are the older untyped tokens. Anything else is not a logout token. */
const ACCEPTED_TYP = new Set([undefined, 'jwt', 'logout+jwt', 'application/logout+jwt']);
/** Logout tokens are delivered at once; an old one is a replay. */
const MAX_TOKEN_AGE_SECONDS = 600;
const CLOCK_TOLERANCE_SECONDS = 60;
/** A jti longer than this is not an identifier an IdP mints (oidc-provider: 21 characters). */
export const MAX_JTI_LENGTH = 256;
/** A JWT bigger than this is not something an IdP sends (and not worth verifying). */
export const MAX_LOGOUT_TOKEN_LENGTH = 16 * 1024;

export interface LogoutTokenVerifierOptions {
  issuer: string;
  clientId: string;
  jwksUri: URL;
  /** the IdP's id_token_signing_alg_values_supported; asymmetric ones are used */
  algorithms?: readonly string[];
  clock: Clock;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^ES256K$|^EdDSA$|^Ed25519$/;

export function createLogoutTokenVerifier(options: LogoutTokenVerifierOptions) {
  const jwks = createRemoteJWKSet(options.jwksUri, {
    timeoutDuration: options.timeoutMs ?? 5000,
    cooldownDuration: 30_000,
    ...(options.fetch ? { [customFetch]: options.fetch } : {}),
  });
  const advertised = (options.algorithms ?? []).filter((alg) => ASYMMETRIC.test(alg));
  const algorithms = advertised.length ? advertised : ['RS256'];

  return async function verifyLogoutToken(jwt: string): Promise<LogoutSubject> {
    if (typeof jwt !== 'string' || jwt.length === 0 || jwt.length > MAX_LOGOUT_TOKEN_LENGTH) {
      throw new LogoutTokenError('logout_token missing or too long');
    }
    let payload: JWTPayload;
    let typ: string | undefined;
    try {
      const result = await jwtVerify(jwt, jwks, {
        issuer: options.issuer,
        audience: options.clientId,
        algorithms,
        // §2.4 (errata set 1): iat, exp and jti are REQUIRED
        requiredClaims: ['iat', 'exp', 'jti'],
        maxTokenAge: MAX_TOKEN_AGE_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(options.clock.now()),
      });
      payload = result.payload;
      typ = result.protectedHeader.typ;
    } catch (error) {
      // the JWKS could not be fetched: we cannot tell, which is not the token's fault
      if (error instanceof joseErrors.JWKSTimeout || isNetworkError(error)) {
        throw new GatewayError('IDP_UNAVAILABLE', 'The identity provider keys could not be fetched.', { cause: error });
      }
      throw new LogoutTokenError(`logout token rejected: ${describeJoseError(error)}`, { cause: error });
    }
    if (!ACCEPTED_TYP.has(typ?.toLowerCase())) throw new LogoutTokenError('logout token has an unexpected typ');
    const events = payload.events;
    if (
      typeof events !== 'object' || events === null || Array.isArray(events) ||
      typeof (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT] !== 'object' ||
      (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT] === null
    ) {
      throw new LogoutTokenError('logout token lacks the back-channel logout event');
    }
    // §2.4: a nonce is prohibited, so an ID token can never pass as a logout token
    if ('nonce' in payload) throw new LogoutTokenError('logout token must not contain a nonce');
    const sub = typeof payload.sub === 'string' && payload.sub ? payload.sub : undefined;
    const sid = typeof payload.sid === 'string' && payload.sid ? payload.sid : undefined;
    if (!sub && !sid) throw new LogoutTokenError('logout token names neither sub nor sid');
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
      throw new LogoutTokenError('logout token jti must be a non-empty string of at most 256 characters');
    }
    return {
      ...(sub ? { sub } : {}),
      ...(sid ? { sid } : {}),
      token: { iss: options.issuer, jti, acceptedForMs: acceptedForMs(payload, options.clock.now()) },
    };
  };
}

/**
 * How much longer this verifier would accept the token: until the earlier of exp and the
 * iat-based age limit, plus the clock tolerance. A replay guard kept that long is complete.
 */
export function acceptedForMs(payload: JWTPayload, now: number): number {
  const untilSeconds = Math.min(payload.exp!, payload.iat! + MAX_TOKEN_AGE_SECONDS) + CLOCK_TOLERANCE_SECONDS;
  const ms = untilSeconds * 1000 - now;
  // at least a second (the token was accepted just now), at most the whole window
  return Math.min(Math.max(ms, 1000), (MAX_TOKEN_AGE_SECONDS + 2 * CLOCK_TOLERANCE_SECONDS) * 1000);
}

function isNetworkError(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) ||
    (error instanceof joseErrors.JOSEError && error.code === 'ERR_JOSE_GENERIC' && error.message.includes('JSON Web Key Set'))
  );
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JOSEError) return error.code;
  return error instanceof Error ? error.name : 'invalid token';
}
