import t from 'tap';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/oidc/logout-token.js';
import type { BrowserClient } from '../support/browser-client.js';
import { idpSidOf, TEST_CLIENT_ID, type DemoIdp } from '../support/idp.js';
import { metricSum, replicasOnRedis, statusOn } from '../support/replicas.js';
import { signInUntilCallback } from '../support/stack.js';

/**
 * Back-Channel Logout 1.0 on two replicas sharing one real Redis, with logout tokens minted and
 * signed by the real IdP: jti and exp are required, a token works once across replicas, and a
 * login whose IdP session was logged out before its callback completes gets no session.
 */
const env = replicasOnRedis(t);

interface IdTokenLike {
  mask: Record<string, unknown>;
  set(key: string, value: unknown): void;
  payload(): Promise<Record<string, unknown>>;
  issue(options: { use: 'logout' }): Promise<string>;
}
interface ProviderModels {
  IdToken: new (claims: Record<string, unknown>, options: { client: unknown }) => IdTokenLike;
  Client: { find(id: string): Promise<unknown> };
}

/**
 * A logout token signed with the IdP's own key, built as oidc-provider's Client#backchannelLogout
 * builds it. oidc-provider always stamps `exp` on a logout token; for the token without one, its
 * payload's `exp` ignores that write (a getter/setter pair), so the IdP signs a token without it.
 */
async function logoutToken(idp: DemoIdp, claims: { sub: string; sid?: string; jti?: string; withoutExp?: boolean }): Promise<string> {
  const provider = idp.provider as unknown as ProviderModels;
  const token = new provider.IdToken({ sub: claims.sub }, { client: await provider.Client.find(TEST_CLIENT_ID) });
  token.mask = { sub: null };
  token.set('events', { [BACKCHANNEL_LOGOUT_EVENT]: {} });
  if (claims.jti !== undefined) token.set('jti', claims.jti);
  if (claims.sid !== undefined) token.set('sid', claims.sid);
  if (claims.withoutExp) {
    const payload = token.payload.bind(token);
    token.payload = async () => Object.defineProperty(await payload(), 'exp', { enumerable: true, get: () => undefined, set: () => undefined });
  }
  return token.issue({ use: 'logout' });
}

async function post(url: string, token: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/.portcullis/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });
  return { status: res.status, body: await res.text() };
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
}

async function signIn(url: string, user: string): Promise<{ browser: BrowserClient; cookie: string; sid: string }> {
  const browser = env.stack.browser();
  const page = await browser.login(`${url}/`, user);
  if (page.status !== 200) throw new Error(`sign-in ended with ${page.status}`);
  return { browser, cookie: browser.cookie('_portcullis')!, sid: idpSidOf(env.stack.idp!, browser) };
}

t.test('a logout token without jti or exp is refused with 400 and ends nothing', async (t) => {
  const [a, b] = env.stack.replicas;
  const alice = await signIn(a!.url, 'alice');
  const idp = env.stack.idp!;
  const noJti = await logoutToken(idp, { sub: 'alice', sid: alice.sid });
  const noExp = await logoutToken(idp, { sub: 'alice', sid: alice.sid, jti: 'no-exp-1', withoutExp: true });
  t.notOk('jti' in claimsOf(noJti), 'the IdP signed a token without jti');
  t.notOk('exp' in claimsOf(noExp), 'the IdP signed a token without exp');
  for (const [name, token] of [['no jti', noJti], ['no exp', noExp]] as const) {
    for (const replica of [a!, b!]) {
      const res = await post(replica.url, token);
      t.equal(res.status, 400, `${name}: 400`);
      t.match(JSON.parse(res.body), { error: 'invalid_request' }, `${name}: invalid_request`);
    }
  }
  t.equal(await statusOn(a!.url, alice.cookie), 200, 'the session lives on');
  t.equal(await statusOn(b!.url, alice.cookie), 200);
});

t.test('a token works once: replayed to the same or the other replica it is refused and ends nothing', async (t) => {
  const [a, b] = env.stack.replicas;
  const idp = env.stack.idp!;
  const before = await metricSum(env.stack, 'portcullis_logouts_total', 'kind="backchannel"');
  const first = await signIn(a!.url, 'dave');
  // sub only: a replay accepted later would end every later session of dave
  const token = await logoutToken(idp, { sub: 'dave', jti: `jti-${Date.now()}` });
  t.equal((await post(a!.url, token)).status, 200, 'the first delivery');
  t.equal(await statusOn(a!.url, first.cookie), 401, 'ended');
  t.equal(await statusOn(b!.url, first.cookie), 401, 'on both replicas');

  const second = await signIn(b!.url, 'dave');
  const again = await post(a!.url, token);
  t.equal(again.status, 400, 'replayed to the same replica');
  t.match(JSON.parse(again.body), { error: 'invalid_request' });
  t.equal((await post(b!.url, token)).status, 400, 'replayed to the other replica');
  t.equal((await post(a!.url, token)).status, 400, 'and again');
  t.equal(await statusOn(a!.url, second.cookie), 200, 'the later session lives on');
  t.equal(await statusOn(b!.url, second.cookie), 200);
  t.equal(await metricSum(env.stack, 'portcullis_logouts_total', 'kind="backchannel"'), before + 1, 'only the first delivery counted');

  const bySid = await logoutToken(idp, { sub: 'dave', sid: second.sid, jti: `jti-sid-${Date.now()}` });
  t.equal((await post(b!.url, bySid)).status, 200);
  t.equal((await post(a!.url, bySid)).status, 400, 'a sid token too');
  t.equal(await statusOn(a!.url, second.cookie), 401);
  const keys = await env.redis.client().keys('portcullis:*');
  t.notOk(keys.some((k) => k.includes('jti-')), 'no jti in a Redis key');
});

t.test('a login whose IdP session was logged out before its callback gets a clear 400 and no session', async (t) => {
  const [a, b] = env.stack.replicas;
  const idp = env.stack.idp!;
  const browser = env.stack.browser();
  const callback = await signInUntilCallback(browser, `${a!.url}/racing`, 'erin');
  const sid = idpSidOf(env.stack.idp!, browser);
  // the IdP ends that session: its logout token reaches replica B before the callback reaches A
  const logout = await post(b!.url, await logoutToken(idp, { sub: 'erin', sid, jti: `jti-race-${Date.now()}` }));
  t.equal(logout.status, 200, 'the logout token is accepted (no session to end yet)');
  const page = await browser.get(callback, { headers: { accept: 'text/html' } });
  t.equal(page.status, 400, 'the callback is refused with a 4xx, not a 500');
  t.match(page.body, /ended by the identity provider/);
  t.match(page.body, /sign in again/i);
  t.notOk(browser.cookie('_portcullis'), 'no session cookie');
  const lines: string[] = [];
  const { runSessionsCommand } = await import('../../src/cli/sessions.js');
  const code = await runSessionsCommand(a!.config, { action: 'list', all: true }, { logger: a!.gateway.logger, out: (line) => lines.push(line) });
  t.equal(code, 0);
  t.notMatch(lines.join('\n'), /\terin\t/, 'no session of erin in the store');
  t.ok((await metricSum(env.stack, 'portcullis_logins_total', 'result="failure"')) >= 1, 'counted as a failed login');

  const fresh = await signIn(a!.url, 'erin');
  t.not(fresh.sid, sid, 'signing in again is a new IdP session');
  t.equal(await statusOn(b!.url, fresh.cookie), 200, 'and works on both replicas');
});
