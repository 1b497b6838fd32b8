import t from 'tap';
import { logout, metricSum, replicasOnRedis, signIn, statusOn } from '../support/replicas.js';
import { eventually } from '../support/stack.js';

/**
 * Background refresh across two replicas against an IdP with short access tokens and rotating
 * refresh tokens (a double refresh would show up as reuse, which revokes the grant).
 */
const TTL_S = 4;
const REFRESH_AHEAD = '2s';
const PERIOD_MS = 2000;

const refreshes: Array<{ at: number; ok: boolean; account?: string }> = [];
const env = replicasOnRedis(t, {
  idp: { accessTokenTtlSeconds: TTL_S, rotateRefreshToken: true },
  config: () => ({ session: { refresh_ahead: REFRESH_AHEAD } }),
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

t.test('one refresh per period across both replicas, never a reused refresh token', async (t) => {
  const [a, b] = env.stack.replicas;
  const cookie = await signIn(env.stack, a!.url, 'alice');
  t.equal(await statusOn(b!.url, cookie), 200);
  const start = Date.now();
  await new Promise((r) => setTimeout(r, 4 * PERIOD_MS + 500));
  const mine = refreshes.filter((r) => r.at >= start && r.account === 'alice');
  t.comment(`refreshes at +${mine.map((r) => r.at - start).join(' ms, +')} ms`);
  t.ok(mine.length >= 3 && mine.length <= 6, `about one refresh per ${PERIOD_MS} ms period (${mine.length} in ${4 * PERIOD_MS + 500} ms)`);
  // expires_in has whole-second granularity, so a token may say 3 s instead of 4: its refresh is
  // then due 1 s (minus jitter) later. A second refresh inside one period would come within ms.
  const minGapMs = (TTL_S - 1) * 1000 - PERIOD_MS - PERIOD_MS * 0.15;
  for (let i = 1; i < mine.length; i++) {
    const gap = mine[i]!.at - mine[i - 1]!.at;
    t.ok(gap > minGapMs, `never two refreshes in one period (gap ${gap} ms; all at +${mine.map((r) => r.at - start).join(', +')})`);
  }
  t.equal(env.stack.idp!.refreshTokenReuseCount(), 0, 'no refresh token was ever presented twice');
  t.equal(refreshes.filter((r) => !r.ok).length, 0, 'no failed refresh');
  t.equal(await statusOn(a!.url, cookie), 200);
  t.equal(await statusOn(b!.url, cookie), 200, 'the session lives on both replicas across refreshes');
  // a refresh the IdP has answered may still be being written when we look: wait for it to land
  const counted = await eventually(async () => {
    const seen = refreshes.filter((r) => r.ok && r.account === 'alice').length;
    return (await metricSum(env.stack, 'portcullis_token_refresh_total', 'result="ok"')) === seen;
  }, 3000).catch(() => false);
  t.ok(counted, 'the replicas counted what the IdP saw');
});

t.test('revoking the grant at the IdP ends the session on both with at most one failed refresh', async (t) => {
  const [a, b] = env.stack.replicas;
  const cookie = await signIn(env.stack, b!.url, 'bob');
  const failedBefore = refreshes.filter((r) => !r.ok).length;
  t.ok(env.stack.idp!.revokeGrants('bob') >= 1);
  await eventually(async () => (await statusOn(a!.url, cookie)) === 401 && (await statusOn(b!.url, cookie)) === 401, 4 * PERIOD_MS);
  await new Promise((r) => setTimeout(r, 2 * PERIOD_MS));
  const failed = refreshes.filter((r) => !r.ok).length - failedBefore;
  t.equal(failed, 1, 'exactly one refused refresh, never retried');
  t.equal(await metricSum(env.stack, 'portcullis_token_refresh_total', 'result="refused"'), 1);
});

t.test('no refresh is ever attempted for a logged-out session', async (t) => {
  const [a, b] = env.stack.replicas;
  const cookie = await signIn(env.stack, a!.url, 'carol');
  t.ok([302, 303].includes(await logout(b!.url, cookie)), 'logout on the other replica');
  const after = Date.now();
  await new Promise((r) => setTimeout(r, 3 * PERIOD_MS));
  const carol = refreshes.filter((r) => r.at >= after && r.account === 'carol');
  t.equal(carol.length, 0, 'no refresh after logout');
  t.equal(await statusOn(a!.url, cookie), 401);
});
