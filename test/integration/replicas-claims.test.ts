import t from 'tap';
import { replicasOnRedis, signIn, statusOn } from '../support/replicas.js';
import { eventually } from '../support/stack.js';

/**
 * Groups follow the IdP: a user removed from a group at the IdP loses what the group granted on
 * every replica once the session's next token refresh has run — not only at the next login.
 * Two replicas on one real redis-server, a real oidc-provider with short access tokens whose
 * account claims the test changes between refreshes, and a route only the "admins" group may use.
 */
const TTL_S = 3;
const REFRESH_AHEAD = '2s';

const groups = new Map<string, string[]>([['dora', ['staff', 'admins']]]);
const refreshes: Array<{ account?: string; ok: boolean }> = [];
const env = replicasOnRedis(t, {
  idp: { accessTokenTtlSeconds: TTL_S, rotateRefreshToken: true, groupsFor: (user) => groups.get(user) ?? ['staff'] },
  config: () => ({ session: { refresh_ahead: REFRESH_AHEAD } }),
  routes: ({ url, upstream }) => [{ from: url, to: upstream.url, policy: 'admins' }],
});

t.before(async () => {
  const provider = env.stack.idp!.provider as unknown as { on(event: string, fn: (ctx: any) => void): void };
  provider.on('grant.success', (ctx) => {
    if (ctx.oidc?.params?.grant_type === 'refresh_token') refreshes.push({ account: ctx.oidc?.account?.accountId, ok: true });
  });
  provider.on('grant.error', (ctx) => {
    if (ctx.oidc?.params?.grant_type === 'refresh_token') refreshes.push({ ok: false });
  });
});

t.test('a group removed at the IdP stops granting access on both replicas after the next refresh', async (t) => {
  const [a, b] = env.stack.replicas;
  const cookie = await signIn(env.stack, a!.url, 'dora');
  t.equal(await statusOn(a!.url, cookie), 200, 'an admin reaches the admins-only route');
  t.equal(env.stack.upstream.last()?.headers['x-portcullis-groups'], 'staff,admins', 'the upstream is told the groups');
  t.equal(await statusOn(b!.url, cookie), 200, 'on the other replica too');

  groups.set('dora', ['staff']);
  const refreshesBefore = refreshes.filter((r) => r.account === 'dora').length;
  // a refresh is due every ~1 s (3 s tokens, refreshed 2 s ahead); allow several
  await eventually(async () => (await statusOn(a!.url, cookie)) === 403 && (await statusOn(b!.url, cookie)) === 403, 15_000);
  t.pass('403 on both replicas');
  t.ok(refreshes.filter((r) => r.account === 'dora').length > refreshesBefore, 'it took a refresh at the IdP');
  t.equal(await statusOn(a!.url, cookie), 403, 'and it stays denied on a');
  t.equal(await statusOn(b!.url, cookie), 403, 'and on b');

  const seen = await fetch(`${a!.url}/.portcullis/userinfo`, { headers: { cookie: `_portcullis=${cookie}`, accept: 'application/json' } });
  const identity = (await seen.json()) as { groups?: string[] };
  t.strictSame(identity.groups, ['staff'], 'the session itself shows the new groups');

  groups.set('dora', ['staff', 'admins', 'ops']);
  await eventually(async () => (await statusOn(a!.url, cookie)) === 200 && (await statusOn(b!.url, cookie)) === 200, 15_000);
  t.pass('a group added back grants access again after a refresh, without a new login');
  // the identity headers are encoded once per session version: a refreshed session is told anew
  for (const replica of [a!, b!]) {
    t.equal(await statusOn(replica.url, cookie), 200);
    t.equal(env.stack.upstream.last()?.headers['x-portcullis-groups'], 'staff,admins,ops', `the upstream is told the new groups by ${replica === a ? 'a' : 'b'}`);
  }
  t.equal(refreshes.filter((r) => !r.ok).length, 0, 'no refresh failed');
  t.equal(env.stack.idp!.refreshTokenReuseCount(), 0, 'and no refresh token was used twice');
});
