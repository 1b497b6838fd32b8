import { defaultGroups, demoClaims } from '../../src/demo/idp-accounts.js';
import { randomToken } from '../../src/lib/random.js';
import { createSessionCookieCodec } from '../../src/session/cookie-codec.js';
import { handleOf, newSessionId } from '../../src/session/ids.js';
import type { SessionRecord } from '../../src/session/types.js';

const HOUR = 3_600_000;
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** Token-sized filler (the sealed tokens' size is what matters to Redis, not their randomness). */
const FILLER = randomToken(700);

/** A session as a real sign-in at the demo IdP leaves it (same claims), with tokens of realistic size. */
export function benchSession(i: number, id: string, now: number): SessionRecord {
  const sub = `user-${i}`;
  const claims = demoClaims(sub, defaultGroups);
  return {
    handle: handleOf(id),
    user: { sub, email: claims.email as string, name: claims.name as string, groups: defaultGroups(sub), claims },
    idpSid: `${FILLER.slice(0, 16)}-${i}`,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 14 * HOUR,
    // nothing is due for refresh while the benchmark runs (refresh_ahead is 60s)
    accessTokenExpiresAt: now + HOUR,
    refreshable: true,
    version: 1,
    userAgent: USER_AGENT,
    tokens: {
      accessToken: `${FILLER.slice(0, 780)}.${i}`,
      refreshToken: `${FILLER.slice(0, 43)}.${i}`,
      idToken: `${FILLER.slice(0, 900)}.${i}`,
      tokenType: 'Bearer',
    },
  };
}

export interface SeededSession {
  handle: string;
  /** the `Cookie` header value that carries this session */
  cookie: string;
}

/** A new session id and the cookie a browser would hold for it (the gateway's own codec). */
export function sessionCookie(cookieName: string, secret: string) {
  const codec = createSessionCookieCodec(secret);
  return (now: number): { id: string; seeded: SeededSession } => {
    const id = newSessionId();
    return { id, seeded: { handle: handleOf(id), cookie: `${cookieName}=${codec.encode(id, now)}` } };
  };
}
