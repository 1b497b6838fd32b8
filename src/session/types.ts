/**
 * A session as the request path and every replica's mirror see it: no tokens.
 * `id` is the secret that the cookie carries; `handle` = digest(id) is the public
 * name used as the store key, in tombstones, logs, the sessions API and metrics.
 */
export interface SessionUser {
  /** the IdP's `sub` */
  sub: string;
  email?: string;
  name?: string;
  groups: string[];
  /** id-token and userinfo claims, for policies (`claim` criterion) */
  claims: Record<string, unknown>;
}

export interface Session {
  handle: string;
  user: SessionUser;
  /** the IdP's session id (`sid` claim), for back-channel / fine-grained logout */
  idpSid?: string;
  /** ms since epoch */
  createdAt: number;
  lastSeenAt: number;
  /** absolute end: createdAt + session.lifetime */
  expiresAt: number;
  /** when the current access token expires (ms), if it does; the refresh scheduler keys on it */
  accessTokenExpiresAt?: number;
  /** true when a refresh token is held, i.e. background refresh is possible */
  refreshable: boolean;
  /** bumped on every write; conditional writes compare it */
  version: number;
  /** client info shown on the user's sessions page */
  userAgent?: string;
  /** the client's address at sign-in (first X-Forwarded-For hop when trusted), for the same page */
  ip?: string;
}

export interface SessionTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  tokenType?: string;
}

/** The full, authoritative record, with tokens (encrypted at rest by stores that persist). */
export interface SessionRecord extends Session {
  tokens: SessionTokens;
}

/**
 * Why a session ended. `logout` is the RP-initiated sign-out (POST /.portcullis/logout); `user` is
 * the user ending a session on their own page; `revoked` a refresh the IdP refused.
 */
export type TombstoneReason = 'logout' | 'backchannel' | 'frontchannel' | 'revoked' | 'expired' | 'operator' | 'user' | 'replaced';

/** What a deletion leaves behind: who was logged out and why. */
export interface Tombstone {
  handle: string;
  sub: string;
  idpSid?: string;
  reason: TombstoneReason;
  /** ms since epoch */
  at: number;
}

/** idle expiry = lastSeenAt + idle timeout; the session ends at the earlier of it and expiresAt */
export function sessionEndsAt(session: Session, idleTimeoutMs: number): number {
  return Math.min(session.expiresAt, session.lastSeenAt + idleTimeoutMs);
}

export function toSession(record: SessionRecord): Session {
  const { tokens: _tokens, ...session } = record;
  return session;
}
