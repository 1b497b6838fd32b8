import t from 'tap';
import { dueAt, nextBackoff } from '../../../src/refresh/backoff.js';

const fixed = (value: number) => () => value;

t.test('full jitter: uniform below base·2^(attempt−1), capped by max', async (t) => {
  const cases: Array<[attempt: number, random: number, expected: number]> = [
    [1, 0.999999, 1000],
    [2, 0.999999, 2000],
    [3, 0.999999, 4000],
    [4, 0.5, 4000],
    [7, 0.999999, 60000], // 64s capped at 60s
    [50, 0.999999, 60000],
    [5000, 0.999999, 60000], // 2 ** 4999 is Infinity: still capped
    [1, 0, 0],
    [0, 0.999999, 1000], // attempts below 1 count as the first
  ];
  for (const [attempt, random, expected] of cases) {
    t.equal(nextBackoff(attempt, { baseMs: 1000, maxMs: 60000, random: fixed(random) }), expected, `attempt ${attempt}, random ${random}`);
  }
});

t.test('decorrelated jitter: between base and 3·previous, capped by max', async (t) => {
  const cases: Array<[previous: number | undefined, random: number, expected: number]> = [
    [undefined, 0, 1000],
    [undefined, 0.5, 2000],
    [2000, 0.5, 3500],
    [2000, 0, 1000],
    [50000, 0.999999, 60000],
    [500, 0.5, 2000], // a previous below base counts as base
  ];
  for (const [previousMs, random, expected] of cases) {
    t.equal(
      nextBackoff(3, { baseMs: 1000, maxMs: 60000, random: fixed(random), jitter: 'decorrelated', previousMs }),
      expected,
      `previous ${previousMs}, random ${random}`,
    );
  }
});

t.test('a base above the max is held to the max', async (t) => {
  t.equal(nextBackoff(1, { baseMs: 10000, maxMs: 3000, random: fixed(0.999999) }), 3000);
  t.equal(nextBackoff(1, { baseMs: 10000, maxMs: 3000, random: fixed(0.5), jitter: 'decorrelated' }), 3000);
});

t.test('backoff stays within bounds for any random draw', async (t) => {
  let out = 0;
  for (let i = 0; i < 2000; i++) {
    const attempt = 1 + (i % 30);
    const delay = nextBackoff(attempt, { baseMs: 500, maxMs: 30000, jitter: i % 2 ? 'full' : 'decorrelated', previousMs: i * 7 });
    if (!(delay >= 0 && delay <= 30000 && Number.isInteger(delay))) out++;
  }
  t.equal(out, 0);
});

t.test('dueAt', async (t) => {
  const now = 1_000_000;
  const ahead = 60_000;
  const cases: Array<{ name: string; exp: number | undefined; random: number; expected: number | undefined }> = [
    { name: 'no expiry: nothing to schedule', exp: undefined, random: 0.5, expected: undefined },
    { name: 'exactly refresh_ahead before expiry without jitter', exp: now + 300_000, random: 0, expected: now + 240_000 },
    { name: 'jitter moves it earlier by up to 10% of refresh_ahead', exp: now + 300_000, random: 0.999999, expected: now + 234_000 },
    { name: 'half the jitter', exp: now + 300_000, random: 0.5, expected: now + 237_000 },
    { name: 'window starts now', exp: now + 60_000, random: 0, expected: now },
    { name: 'inside the window: halfway through the remaining life', exp: now + 40_000, random: 0, expected: now + 20_000 },
    { name: 'inside the window with jitter', exp: now + 40_000, random: 0.999999, expected: now + 18_000 },
    { name: 'a token shorter-lived than refresh_ahead is not refreshed at once', exp: now + 10_000, random: 0, expected: now + 5_000 },
    { name: 'already expired: now, never in the past', exp: now - 5_000, random: 0.5, expected: now },
    { name: 'expiring this instant: now', exp: now, random: 0.5, expected: now },
  ];
  for (const c of cases) {
    t.equal(dueAt({ accessTokenExpiresAt: c.exp }, ahead, fixed(c.random), now), c.expected, c.name);
  }
  t.equal(dueAt({ accessTokenExpiresAt: now + 1000 }, 0, fixed(0.5), now), now + 1000, 'refresh_ahead 0: at expiry');
  t.equal(dueAt({ accessTokenExpiresAt: Number.NaN }, ahead, fixed(0.5), now), undefined, 'a broken expiry is ignored');
});

t.test('dueAt is never in the past and never after expiry', async (t) => {
  let bad = 0;
  for (let i = 0; i < 5000; i++) {
    const now = 1_000_000;
    const exp = now - 100_000 + ((i * 7919) % 600_000);
    const ahead = (i * 104729) % 120_000;
    const due = dueAt({ accessTokenExpiresAt: exp }, ahead, Math.random, now) as number;
    if (due < now || (exp > now && due > exp)) bad++;
  }
  t.equal(bad, 0);
});
