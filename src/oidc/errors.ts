import {
  AuthorizationResponseError,
  ClientError,
  ResponseBodyError,
  WWWAuthenticateChallengeError,
} from 'openid-client';
import { GatewayError } from '../errors.js';
import type { RefreshOutcome } from '../refresh/types.js';

/**
 * How IdP failures become decisions: a refresh is either refused for good or worth retrying;
 * a login failure is the browser's problem (400/403) or the IdP's (503). Messages carry OAuth
 * error codes and HTTP statuses only, never tokens or IdP-provided descriptions.
 */

/** A back-channel logout token that fails validation (Back-Channel Logout 1.0 §2.6). */
export class LogoutTokenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LogoutTokenError';
  }
}

/** OAuth errors that mean "this refresh token will never work again" (RFC 6749 §5.2). */
const REFUSED = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope']);

/** Client errors that mean the IdP did not answer properly (down, overloaded, a proxy's HTML error page). */
const UNAVAILABLE_CODES = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT', 'OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON']);

/** OAuth error codes are [\x20-\x21\x23-\x5B\x5D-\x7E]+ (RFC 6749 §5.2); keep them short and plain. */
export function safeOAuthCode(value: unknown): string {
  if (typeof value !== 'string') return 'unknown_error';
  const cleaned = value.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 64);
  return cleaned || 'unknown_error';
}

function challengeError(error: WWWAuthenticateChallengeError): string | undefined {
  const first = error.cause[0];
  const code = first?.parameters.error;
  return typeof code === 'string' ? code : undefined;
}

/** A network-level failure: fetch's TypeError ("fetch failed", ECONNREFUSED…) or an abort/timeout. */
function networkReason(error: unknown): string | undefined {
  if (error instanceof TypeError && !String((error as { code?: unknown }).code ?? '').startsWith('ERR_INVALID_ARG')) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    return `network error${typeof cause?.code === 'string' ? ` (${cause.code})` : ''}`;
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timeout';
  return undefined;
}

/** Refused (never retry) or transient (retry with backoff): the refresh scheduler's whole question. */
export function classifyRefreshError(error: unknown): Exclude<RefreshOutcome, { kind: 'ok' }> {
  if (error instanceof ResponseBodyError) {
    const code = safeOAuthCode(error.error);
    if (REFUSED.has(code)) return { kind: 'refused', error: code };
    return { kind: 'transient', error: `${code} (HTTP ${error.status})` };
  }
  if (error instanceof WWWAuthenticateChallengeError) {
    const code = challengeError(error);
    // 401 at the token endpoint is client authentication failing: retrying cannot fix it
    if (error.status === 401 || (code !== undefined && REFUSED.has(code))) {
      return { kind: 'refused', error: safeOAuthCode(code ?? 'invalid_client') };
    }
    return { kind: 'transient', error: `challenge (HTTP ${error.status})` };
  }
  if (error instanceof GatewayError) return { kind: 'transient', error: error.code };
  if (error instanceof ClientError) {
    const cause = (error as { cause?: unknown }).cause;
    const network = networkReason(cause);
    if (network) return { kind: 'transient', error: network };
    return { kind: 'transient', error: error.code ?? 'client error' };
  }
  const network = networkReason(error);
  if (network) return { kind: 'transient', error: network };
  return { kind: 'transient', error: error instanceof Error ? error.name : 'unexpected error' };
}

/** True when the error says the IdP could not be reached or did not answer properly. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof ResponseBodyError) return error.status >= 500 || error.status === 429;
  if (error instanceof ClientError) return UNAVAILABLE_CODES.has(error.code ?? '') || networkReason(error.cause) !== undefined;
  return networkReason(error) !== undefined;
}

/** A login (authorization response, code redemption, userinfo) failure as the browser should see it. */
export function loginError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof AuthorizationResponseError) return authorizationError(error.error);
  if (isUnavailable(error)) {
    return new GatewayError('IDP_UNAVAILABLE', 'The identity provider could not be reached. Please try again in a moment.', {
      cause: error,
    });
  }
  if (error instanceof ResponseBodyError) {
    const code = safeOAuthCode(error.error);
    if (code === 'invalid_client' || code === 'unauthorized_client') {
      return new GatewayError('INTERNAL', `The identity provider refused the gateway's client credentials (${code}).`, { cause: error });
    }
    return new GatewayError('BAD_CALLBACK', `The identity provider refused the sign-in (${code}). Please sign in again.`, {
      cause: error,
    });
  }
  if (error instanceof WWWAuthenticateChallengeError) {
    return new GatewayError('INTERNAL', "The identity provider refused the gateway's client credentials.", { cause: error });
  }
  return new GatewayError('BAD_CALLBACK', 'The sign-in response could not be verified. Please sign in again.', { cause: error });
}

/** The IdP redirected back with `error=…` (RFC 6749 §4.1.2.1). */
export function authorizationError(rawCode: unknown): GatewayError {
  const code = safeOAuthCode(rawCode);
  if (code === 'access_denied') {
    return new GatewayError('FORBIDDEN', 'Sign-in was cancelled or refused at the identity provider.');
  }
  if (code === 'temporarily_unavailable' || code === 'server_error') {
    return new GatewayError('IDP_UNAVAILABLE', `The identity provider could not complete the sign-in (${code}). Please try again.`);
  }
  return new GatewayError('BAD_CALLBACK', `The identity provider returned an error (${code}).`);
}
