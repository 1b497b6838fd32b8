import { sessionEndsAt, type Session } from './types.js';

/**
 * Pure decisions about a session's life, with `now` injected (ms since epoch). The request
 * path calls these on every request, so they decide to write (touch the store, send a
 * Set-Cookie) only rarely.
 */

/** touch at most this often, however long the idle timeout */
const MAX_TOUCH_INTERVAL_MS = 60_000;
/** no cookie renewal in the absolute lifetime's last minute: it could not extend anything */
const FINAL_MINUTE_MS = 60_000;

export type CookieRenewal = { renew: false } | { renew: true; maxAgeSeconds: number };

/** Live until the earlier of the absolute end and lastSeenAt + idle timeout. */
export function isLive(session: Session, now: number, idleTimeoutMs: number): boolean {
  return now < sessionEndsAt(session, idleTimeoutMs);
}

/** The smaller of idle/10 and 60s: how stale lastSeenAt may be before the store hears of it. */
export function touchIntervalMs(idleTimeoutMs: number): number {
  return Math.min(idleTimeoutMs / 10, MAX_TOUCH_INTERVAL_MS);
}

/**
 * Write lastSeenAt only when the stored value is older than the touch interval. Being up to
 * one interval stale shortens the idle timeout by at most a tenth, in exchange for (almost)
 * never writing on the hot path. A session that is no longer live is never touched.
 */
export function shouldTouch(session: Session, now: number, idleTimeoutMs: number): boolean {
  return isLive(session, now, idleTimeoutMs) && now - session.lastSeenAt >= touchIntervalMs(idleTimeoutMs);
}

/**
 * Max-Age of a cookie issued now: 1.5 × the idle timeout, never past the absolute expiry.
 * The extra half covers a user whose last request came just before the renewal threshold
 * (idle/2 after issue): the cookie must outlive lastSeen + idle, which the server enforces.
 * Rounded down; 0 once the session has ended.
 */
export function cookieMaxAgeSeconds(session: Session, now: number, idleTimeoutMs: number): number {
  const ms = maxAgeMs(session, now, idleTimeoutMs);
  return ms <= 0 ? 0 : Math.floor(ms / 1000);
}

/**
 * The cookie slides: each renewal sets Max-Age again. To keep Set-Cookie rare, renew only once
 * more than half the idle timeout has passed since the cookie was issued, and only when the
 * new cookie would outlive the current one meaningfully (by at least the touch interval).
 * Near the absolute expiry the cookie is already capped at it, so renewing would only churn.
 */
export function cookieRenewal(input: { issuedAt: number; session: Session; now: number; idleTimeoutMs: number }): CookieRenewal {
  const { issuedAt, session, now, idleTimeoutMs } = input;
  if (!isLive(session, now, idleTimeoutMs)) return { renew: false };
  if (now - issuedAt <= idleTimeoutMs / 2) return { renew: false };
  if (session.expiresAt - now <= FINAL_MINUTE_MS) return { renew: false };
  const currentEnd = issuedAt + maxAgeMs(session, issuedAt, idleTimeoutMs);
  const renewedEnd = now + maxAgeMs(session, now, idleTimeoutMs);
  if (renewedEnd - currentEnd < touchIntervalMs(idleTimeoutMs)) return { renew: false };
  const maxAgeSeconds = cookieMaxAgeSeconds(session, now, idleTimeoutMs);
  return maxAgeSeconds > 0 ? { renew: true, maxAgeSeconds } : { renew: false };
}

function maxAgeMs(session: Session, at: number, idleTimeoutMs: number): number {
  return Math.min(idleTimeoutMs * 1.5, session.expiresAt - at);
}
