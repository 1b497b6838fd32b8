import { groupsFrom } from './session-record.js';

/**
 * What an access token says, once its signature (JWT) or the IdP (introspection) vouched for
 * it: the checks that hold on every use, also for a cached answer (the clock moves, a reload may
 * change the accepted audiences), and the Subject the policies judge.
 */

/** Clock skew allowed on exp and nbf (seconds). */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** Who a bearer token speaks for, in the shape a session's user has. */
export interface BearerPrincipal {
  /** `sub`, or the client_id for a token with no user (client_credentials; RFC 9068 §2.2) */
  sub: string;
  /** only an address the IdP marks verified */
  email?: string;
  groups: string[];
  /** the token's claims for `claim` rules; `scope` as a list of scope values */
  claims: Record<string, unknown>;
  clientId?: string;
  /** a digest of the token: cache keys and log correlation, never the token */
  tokenId: string;
}

export interface ClaimCheck {
  issuer: string;
  audiences: readonly string[];
  /** ms since epoch */
  now: number;
  /** true for a JWT: RFC 9068 §2.2 makes aud and exp required there */
  structured: boolean;
}

/** Undefined when the claims pass; else a short, token-free reason for error_description. */
export function claimProblem(claims: Record<string, unknown>, check: ClaimCheck): string | undefined {
  const nowS = check.now / 1000;
  if (claims.iss !== undefined && claims.iss !== check.issuer) return 'token issuer is not accepted';
  const exp = claims.exp;
  if (exp === undefined ? check.structured : typeof exp !== 'number') return 'token has no valid expiry';
  if (typeof exp === 'number' && nowS > exp + CLOCK_TOLERANCE_SECONDS) return 'token expired';
  const nbf = claims.nbf;
  if (nbf !== undefined && (typeof nbf !== 'number' || nowS < nbf - CLOCK_TOLERANCE_SECONDS)) return 'token not yet valid';
  const aud = claims.aud;
  if (aud === undefined) {
    if (check.structured) return 'token has no audience';
  } else if (!audienceAccepted(aud, check.audiences)) {
    return 'token audience is not accepted';
  }
  // a sender-constrained token (DPoP, mTLS; RFC 9449 / 8705) is only good with its proof
  if (claims.cnf !== undefined) return 'sender-constrained tokens are not accepted';
  if (subjectOf(claims) === undefined) return 'token names no subject';
  return undefined;
}

function audienceAccepted(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === 'string') return accepted.includes(aud);
  return Array.isArray(aud) && aud.some((value) => typeof value === 'string' && accepted.includes(value));
}

function subjectOf(claims: Record<string, unknown>): string | undefined {
  if (typeof claims.sub === 'string' && claims.sub) return claims.sub;
  if (typeof claims.client_id === 'string' && claims.client_id) return claims.client_id;
  return undefined;
}

/** The principal for claims that passed claimProblem. */
export function principalFrom(claims: Record<string, unknown>, groupsClaim: string, tokenId: string): BearerPrincipal {
  const verified = claims.email_verified === true || claims.email_verified === 'true';
  const email = verified && typeof claims.email === 'string' && claims.email ? claims.email : undefined;
  const clientId = typeof claims.client_id === 'string' && claims.client_id ? claims.client_id : undefined;
  const view: Record<string, unknown> = { ...claims };
  // RFC 9068 §2.2.3 / RFC 7662 §2.2: space-separated; a list lets `claim: {name: scope, value: x}` match one scope
  if (typeof claims.scope === 'string') view.scope = claims.scope.split(' ').filter(Boolean);
  delete view.active;
  return {
    sub: subjectOf(claims)!,
    ...(email ? { email } : {}),
    groups: groupsFrom(claims, groupsClaim),
    claims: view,
    ...(clientId ? { clientId } : {}),
    tokenId,
  };
}

/** When a cached answer must be asked again: at the token's expiry at the latest. */
export function cacheTtlMs(claims: Record<string, unknown>, now: number, maxMs: number): number {
  const exp = claims.exp;
  if (typeof exp !== 'number') return maxMs;
  return Math.max(1, Math.min(maxMs, exp * 1000 - now));
}
