import t from 'tap';
import { cookieMaxAgeSeconds, cookieRenewal, isLive, shouldTouch, touchIntervalMs } from '../../../src/session/lifecycle.js';
import type { Session } from '../../../src/session/types.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const T0 = 1_700_000_000_000;
const IDLE = 2 * H;

/** a session created at T0 with a 14h lifetime, last seen `seenAgo` before `now` */
function session(overrides: Partial<Session> = {}): Session {
  return {
    handle: 'h'.repeat(22),
    user: { sub: 'u', groups: [], claims: {} },
    createdAt: T0,
    lastSeenAt: T0,
    expiresAt: T0 + 14 * H,
    refreshable: true,
    version: 1,
    ...overrides,
  };
}

t.test('isLive', async (t) => {
  const cases: Array<[string, Session, number, boolean]> = [
    ['just created', session(), T0, true],
    ['one ms before idle expiry', session(), T0 + IDLE - 1, true],
    ['at idle expiry', session(), T0 + IDLE, false],
    ['seen recently, before the absolute end', session({ lastSeenAt: T0 + 13 * H }), T0 + 14 * H - 1, true],
    ['seen recently, at the absolute end', session({ lastSeenAt: T0 + 13 * H }), T0 + 14 * H, false],
  ];
  for (const [name, s, now, expected] of cases) t.equal(isLive(s, now, IDLE), expected, name);
});

t.test('shouldTouch writes rarely', async (t) => {
  t.equal(touchIntervalMs(IDLE), M, 'capped at 60s');
  t.equal(touchIntervalMs(5 * M), 30 * S, 'idle/10 when smaller');
  const cases: Array<[string, Session, number, number, boolean]> = [
    ['just seen', session(), T0 + 1, IDLE, false],
    ['59s ago', session(), T0 + 59 * S, IDLE, false],
    ['60s ago', session(), T0 + 60 * S, IDLE, true],
    ['short idle: 29s ago', session(), T0 + 29 * S, 5 * M, false],
    ['short idle: 30s ago', session(), T0 + 30 * S, 5 * M, true],
    ['idle-expired', session(), T0 + IDLE, IDLE, false],
    ['absolutely expired', session({ lastSeenAt: T0 + 13 * H + 59 * M }), T0 + 14 * H, IDLE, false],
    ['clock behind lastSeenAt', session({ lastSeenAt: T0 + M }), T0, IDLE, false],
  ];
  for (const [name, s, now, idle, expected] of cases) t.equal(shouldTouch(s, now, idle), expected, name);
});

t.test('cookieMaxAgeSeconds: 1.5 × the idle timeout, capped by the absolute end', async (t) => {
  const cases: Array<[string, Session, number, number]> = [
    ['fresh session: 1.5 × idle', session(), T0, 10800],
    ['three hours before the end', session(), T0 + 11 * H, 10800],
    ['one hour before the end', session({ lastSeenAt: T0 + 13 * H }), T0 + 13 * H, 3600],
    ['rounded down', session({ lastSeenAt: T0 + 13 * H }), T0 + 14 * H - 1500, 1],
    ['ended', session({ lastSeenAt: T0 + 13 * H }), T0 + 14 * H + 5, 0],
  ];
  for (const [name, s, now, expected] of cases) t.equal(cookieMaxAgeSeconds(s, now, IDLE), expected, name);
});

t.test('cookieRenewal', async (t) => {
  type Case = [string, { issuedAt: number; session: Session; now: number }, ReturnType<typeof cookieRenewal>];
  const seenAt = (now: number) => session({ lastSeenAt: now });
  const cases: Case[] = [
    ['just issued', { issuedAt: T0, session: seenAt(T0), now: T0 }, { renew: false }],
    ['exactly half the idle timeout', { issuedAt: T0, session: seenAt(T0 + H), now: T0 + H }, { renew: false }],
    ['past half the idle timeout', { issuedAt: T0, session: seenAt(T0 + H + 1), now: T0 + H + 1 }, { renew: true, maxAgeSeconds: 10800 }],
    [
      'past half, but the cookie already reaches the absolute end: no renewal',
      { issuedAt: T0 + 11 * H, session: seenAt(T0 + 12.5 * H), now: T0 + 12.5 * H },
      { renew: false },
    ],
    [
      'the current cookie already reaches the absolute end',
      { issuedAt: T0 + 12.5 * H, session: seenAt(T0 + 13.6 * H), now: T0 + 13.6 * H },
      { renew: false },
    ],
    [
      'would extend by less than the touch interval',
      { issuedAt: T0 + 12 * H - 30 * S, session: seenAt(T0 + 13.5 * H), now: T0 + 13.5 * H },
      { renew: false },
    ],
    [
      'the final minute of the lifetime',
      { issuedAt: T0 + 11 * H, session: seenAt(T0 + 14 * H - 30 * S), now: T0 + 14 * H - 30 * S },
      { renew: false },
    ],
    ['session no longer live', { issuedAt: T0, session: session(), now: T0 + IDLE }, { renew: false }],
  ];
  for (const [name, input, expected] of cases) t.strictSame(cookieRenewal({ ...input, idleTimeoutMs: IDLE }), expected, name);
});

t.test('a cookie renewed on use never outlives the session and keeps an active user signed in', async (t) => {
  // an active user, one request every 10 minutes for the whole lifetime
  let cookieIssued = T0;
  let cookieEnd = T0 + cookieMaxAgeSeconds(session(), T0, IDLE) * 1000;
  let renewals = 0;
  for (let now = T0 + 10 * M; now < T0 + 14 * H; now += 10 * M) {
    const s = session({ lastSeenAt: now - 10 * M });
    t.ok(now < cookieEnd, `cookie still present at +${(now - T0) / M}m`);
    const decision = cookieRenewal({ issuedAt: cookieIssued, session: s, now, idleTimeoutMs: IDLE });
    if (decision.renew) {
      renewals++;
      cookieIssued = now;
      cookieEnd = now + decision.maxAgeSeconds * 1000;
      t.ok(cookieEnd <= s.expiresAt, 'never past the absolute end');
    }
  }
  t.ok(renewals >= 10 && renewals <= 14, `about one renewal per hour (${renewals})`);
});
