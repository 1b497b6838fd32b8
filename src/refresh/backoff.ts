import type { Session } from '../session/types.js';

/**
 * The refresh schedule's timing decisions, pure so they can be tested table-driven.
 */

export type JitterKind = 'full' | 'decorrelated';

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** uniform in [0, 1); injected in tests */
  random?: () => number;
  /**
   * full: uniform in [0, min(max, base·2^(attempt−1))] — spreads retries widest.
   * decorrelated: uniform in [base, 3·previous], capped by max — never below base, grows ~exponentially.
   */
  jitter?: JitterKind;
  /** the delay returned last time (decorrelated jitter only); base when absent */
  previousMs?: number;
}

/**
 * Delay before retry number `attempt` (1 = the first retry after one failure).
 * Always an integer in [0, maxMs].
 */
export function nextBackoff(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const maxMs = Math.max(0, options.maxMs);
  const baseMs = Math.min(Math.max(0, options.baseMs), maxMs);
  if (options.jitter === 'decorrelated') {
    const previous = Math.max(baseMs, options.previousMs ?? baseMs);
    return Math.round(Math.min(maxMs, baseMs + random() * (3 * previous - baseMs)));
  }
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  // 2 ** 1100 is Infinity; min() makes that harmless
  const cap = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.round(random() * cap);
}

/** Jitter spreads refreshes of sessions created together (a morning login wave) by up to this share. */
export const DUE_JITTER_FRACTION = 0.1;

/**
 * When to refresh a session's access token, or undefined when it has no known expiry.
 *
 * Normally `expiry − refreshAhead − jitter`, the jitter being up to 10% of refreshAhead (earlier,
 * never later). When that moment has already passed — the token is inside its refresh window —
 * the refresh happens halfway through the token's remaining life (with the same 10% jitter), and
 * at once when it has expired. Refreshing "now" for every token inside the window would loop
 * forever when the IdP issues tokens that live shorter than refresh_ahead: each new token would be
 * due the moment it arrived. Halving the remaining life bounds that to one refresh per half
 * lifetime and still refreshes an old token well before it expires. Never earlier than `now`.
 */
export function dueAt(
  session: Pick<Session, 'accessTokenExpiresAt'>,
  refreshAheadMs: number,
  random: () => number,
  now: number,
): number | undefined {
  const expiresAt = session.accessTokenExpiresAt;
  if (expiresAt === undefined || !Number.isFinite(expiresAt)) return undefined;
  const ahead = Math.max(0, refreshAheadMs);
  const planned = expiresAt - ahead - random() * DUE_JITTER_FRACTION * ahead;
  if (planned >= now) return Math.round(planned);
  const remaining = expiresAt - now;
  if (remaining <= 0) return now;
  const half = remaining / 2;
  return Math.max(now, Math.round(now + half - random() * DUE_JITTER_FRACTION * half));
}
