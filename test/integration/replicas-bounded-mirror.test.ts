import t from 'tap';
import { logout, metricSum, replicasOnRedis, signIn, statusOn } from '../support/replicas.js';
import { eventually } from '../support/stack.js';

/**
 * Two replicas whose mirrors hold at most 2 sessions (session.redis.mirror_max_sessions) while
 * more sessions exist: each is still served (a miss costs one Redis read), a logout on one replica
 * reaches the other, and background refresh (from the shared refresh queue, not the mirror) covers
 * every session exactly once across both, against an IdP with short, rotating tokens.
 */
const BOUND = 2;
const TTL_S = 4;
const PERIOD_MS = 2000;

const refreshes: Array<{ at: number; ok: boolean; account?: string }> = [];
const env = replicasOnRedis(t, {
  idp: { accessTokenTtlSeconds: TTL_S, rotateRefreshToken: true },
  config: () => ({
    session: { refresh_ahead: '2s', redis: { url: env.redis.url, key_prefix: 'portcullis:', mirror_max_sessions: BOUND } },
  }),
});

t.before(async () => {
  const provider = env.stack.idp!.provider as unknown as { on(event: string, fn: (ctx: any, err?: any) => void): void };
  provider.on('grant.success', (ctx) => {
    if (ctx.oidc?.params?.grant_type === 'refresh_token') refreshes.push({ at: Date.now(), ok: true, account: ctx.oidc?.account?.accountId });
  });
  provider.on('grant.error', (ctx) => {
    if (ctx.oidc?.params?.grant_type === 'refresh_token') refreshes.push({ at: Date.now(), ok: false });
  });
});

const misses = () => metricSum(env.stack, 'portcullis_session_sync_events_total', 'event="miss"');
const mirrored = () => metricSum(env.stack, 'portcullis_sessions_active');

t.test('sessions beyond the bound are served on both replicas, and logouts still reach the other one', async (t) => {
  const [a, b] = env.stack.replicas;
  const users = ['ann', 'ben', 'cat', 'dan', 'eve'];
  const cookies: string[] = [];
  for (const user of users) cookies.push(await signIn(env.stack, a!.url, user));
  for (const cookie of cookies) {
    t.equal(await statusOn(a!.url, cookie), 200, 'served where it signed in');
    t.equal(await statusOn(b!.url, cookie), 200, 'served on the other replica');
  }
  t.ok((await mirrored()) <= 2 * BOUND, `each mirror holds at most ${BOUND} (both: ${await mirrored()})`);
  // the first session was pushed out of both mirrors by the later ones: serving it again reads Redis once per replica
  const before = await misses();
  t.equal(await statusOn(a!.url, cookies[0]!), 200);
  t.equal(await statusOn(b!.url, cookies[0]!), 200);
  t.equal((await misses()) - before, 2, 'one Redis read on each replica');
  t.equal(await statusOn(b!.url, cookies[0]!), 200);
  t.equal((await misses()) - before, 2, 'then served from the mirror');

  // a logout on A ends the session on B, whether B holds it (cookies[0], just used) or not (cookies[1])
  for (const cookie of [cookies[0]!, cookies[1]!]) {
    t.ok([302, 303].includes(await logout(a!.url, cookie)), 'logout on A');
    t.ok(await eventually(async () => (await statusOn(b!.url, cookie)) === 401, 3000).then(() => true, () => false), 'refused on B');
    t.equal(await statusOn(a!.url, cookie), 401, 'refused on A');
  }
  for (const cookie of cookies.slice(2)) t.equal(await statusOn(b!.url, cookie), 200, 'the other sessions live on');
});

t.test('every session is refreshed once per period across both replicas, none twice', async (t) => {
  const [a, b] = env.stack.replicas;
  const users = ['fay', 'gus', 'hal', 'ivy'];
  for (const [i, user] of users.entries()) await signIn(env.stack, (i % 2 === 0 ? a : b)!.url, user);
  const start = Date.now();
  await new Promise((r) => setTimeout(r, 4 * PERIOD_MS + 500));
  for (const user of users) {
    const mine = refreshes.filter((r) => r.at >= start && r.account === user);
    t.ok(mine.length >= 3 && mine.length <= 6, `${user}: about one refresh per ${PERIOD_MS} ms (${mine.length} in ${4 * PERIOD_MS + 500} ms)`);
    // as in replicas-refresh.test.ts: expires_in is whole seconds, so a period may be 1 s shorter
    const minGapMs = (TTL_S - 1) * 1000 - PERIOD_MS - PERIOD_MS * 0.15;
    for (let i = 1; i < mine.length; i++) {
      const gap = mine[i]!.at - mine[i - 1]!.at;
      t.ok(gap > minGapMs, `${user}: never two refreshes in one period (gap ${gap} ms)`);
    }
  }
  t.equal(env.stack.idp!.refreshTokenReuseCount(), 0, 'no refresh token was ever presented twice');
  t.equal(refreshes.filter((r) => !r.ok).length, 0, 'no failed refresh');
});

t.test('a logged-out session leaves the refresh queue', async (t) => {
  const [a, b] = env.stack.replicas;
  const cookie = await signIn(env.stack, a!.url, 'jon');
  t.ok([302, 303].includes(await logout(b!.url, cookie)), 'logout on the other replica');
  const after = Date.now();
  await new Promise((r) => setTimeout(r, 3 * PERIOD_MS));
  t.equal(refreshes.filter((r) => r.at >= after && r.account === 'jon').length, 0, 'no refresh after logout');
});
