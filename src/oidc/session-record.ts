import type { SessionRecord, SessionUser } from '../session/types.js';
import type { LoginResult } from './types.js';

/** The user-agent shown on the user's sessions page; bounded, printable. */
const MAX_USER_AGENT = 256;
/** IPv6 with a zone id fits easily */
const MAX_IP = 64;

/**
 * Group membership from the configured claim: a JSON array of strings (the common case), or a
 * single string with comma- or space-separated names. Anything else means no groups.
 */
export function groupsFrom(claims: Record<string, unknown>, claim: string): string[] {
  const value = claims[claim];
  const names = Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string')
    : typeof value === 'string'
      ? value.split(/[,\s]+/)
      : [];
  return [...new Set(names.map((n) => n.trim()).filter(Boolean))];
}

export function userFrom(result: LoginResult, groupsClaim: string): SessionUser {
  return userFromClaims(result.sub, result.claims, groupsClaim);
}

/** The session's view of a user from ID-token (+ userinfo) claims: at login and at every refresh. */
export function userFromClaims(sub: string, claims: Record<string, unknown>, groupsClaim: string): SessionUser {
  // the session's e-mail is one the IdP vouches for: it travels to upstreams in
  // X-Portcullis-Email and the assertion, which they trust (the raw claim stays in `claims`)
  const verified = claims.email_verified === true || claims.email_verified === 'true';
  const email = verified && typeof claims.email === 'string' && claims.email ? claims.email : undefined;
  const name =
    typeof claims.name === 'string' && claims.name
      ? claims.name
      : typeof claims.preferred_username === 'string' && claims.preferred_username
        ? claims.preferred_username
        : undefined;
  return {
    sub,
    ...(email ? { email } : {}),
    ...(name ? { name } : {}),
    groups: groupsFrom(claims, groupsClaim),
    claims,
  };
}

export function sessionRecordFrom(input: {
  handle: string;
  result: LoginResult;
  groupsClaim: string;
  now: number;
  lifetimeMs: number;
  userAgent: string | undefined;
  /** the client's address as the request context computed it (trusted proxies only) */
  ip?: string;
}): SessionRecord {
  const { result, now } = input;
  const userAgent = input.userAgent?.replace(/[^\x20-\x7e]/g, '').slice(0, MAX_USER_AGENT);
  // an address is short; a forwarded header is not checked for shape, so bound it here too
  const ip = input.ip?.replace(/[^0-9A-Za-z.:%_-]/g, '').slice(0, MAX_IP);
  return {
    handle: input.handle,
    user: userFrom(result, input.groupsClaim),
    ...(result.sid ? { idpSid: result.sid } : {}),
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + input.lifetimeMs,
    ...(result.accessTokenExpiresAt !== undefined ? { accessTokenExpiresAt: result.accessTokenExpiresAt } : {}),
    refreshable: Boolean(result.tokens.refreshToken),
    version: 1,
    ...(userAgent ? { userAgent } : {}),
    ...(ip ? { ip } : {}),
    tokens: result.tokens,
  };
}
