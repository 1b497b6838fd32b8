import t from 'tap';
import type { BrowserClient } from '../support/browser-client.js';
import { idpSidOf } from '../support/idp.js';
import { metricSum, replicasOnRedis, statusOn } from '../support/replicas.js';

/**
 * Front-Channel Logout 1.0 on two replicas sharing one real Redis. oidc-provider 9 has no
 * front-channel logout (it sends no iframes), so the test requests the receiver exactly as the
 * IdP's iframe would: GET with iss and the IdP session's sid, read from the real IdP's store.
 */
const env = replicasOnRedis(t);
const FRONTCHANNEL = '/.portcullis/frontchannel-logout';

/** Signs `browser` in on `url`; returns the gateway cookie of that sign-in. */
async function signIn(browser: BrowserClient, url: string, user: string): Promise<string> {
  const page = await browser.login(`${url}/`, user);
  if (page.status !== 200) throw new Error(`sign-in ended with ${page.status}`);
  return browser.cookie('_portcullis')!;
}

/** A second browser holding the same IdP session (its IdP cookies), none of the gateway's. */
function sameIdpSession(browser: BrowserClient): BrowserClient {
  const copy = env.stack.browser();
  for (const cookie of browser.jar.all()) if (cookie.name !== '_portcullis') copy.jar.put(cookie);
  return copy;
}

function frontchannelUrl(base: string, params: Array<[string, string]>): string {
  return `${base}${FRONTCHANNEL}?${new URLSearchParams(params).toString()}`;
}

t.test('with iss and sid: exactly that IdP session ends, on both replicas', async (t) => {
  const [a, b] = env.stack.replicas;
  const issuer = env.stack.issuer;
  const before = await metricSum(env.stack, 'portcullis_logouts_total', 'kind="frontchannel"');

  const laptop = env.stack.browser();
  const onA = await signIn(laptop, a!.url, 'alice');
  const sid = idpSidOf(env.stack.idp!, laptop);
  // the same IdP session signs in on replica B too (no new IdP sign-in): a second gateway session
  const tablet = sameIdpSession(laptop);
  const alsoSid = await signIn(tablet, b!.url, 'alice');
  t.equal(idpSidOf(env.stack.idp!, tablet), sid, 'the tablet shares the laptop’s IdP session');
  const phone = env.stack.browser();
  const onB = await signIn(phone, b!.url, 'alice');
  t.not(idpSidOf(env.stack.idp!, phone), sid, 'the phone holds another IdP session');
  t.equal(await statusOn(a!.url, onA), 200);
  t.equal(await statusOn(b!.url, onB), 200);

  const res = await fetch(frontchannelUrl(b!.url, [['iss', issuer], ['sid', sid]]));
  const body = await res.text();
  t.equal(res.status, 200);
  t.match(body, /signed out/i);
  t.equal(res.headers.get('cache-control'), 'no-store');
  t.match(res.headers.get('content-security-policy'), new RegExp(`frame-ancestors ${new URL(issuer).origin};`), 'the IdP may frame it');
  t.notMatch(res.headers.get('content-security-policy'), /script-src|frame-ancestors 'none'/);
  t.equal(res.headers.get('x-frame-options'), null, 'no X-Frame-Options to contradict the CSP');
  t.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');

  t.equal(await statusOn(a!.url, onA), 401, 'ended on the replica that did not get the request');
  t.equal(await statusOn(b!.url, onA), 401, 'and on the one that did');
  t.equal(await statusOn(a!.url, alsoSid), 401, 'every gateway session of that IdP session ends');
  t.equal(await statusOn(b!.url, alsoSid), 401);
  t.equal(await statusOn(a!.url, onB), 200, 'the same user on another IdP session lives on');
  t.equal(await statusOn(b!.url, onB), 200);
  t.equal(await metricSum(env.stack, 'portcullis_logouts_total', 'kind="frontchannel"'), before + 2, 'counted as frontchannel');

  // a login carrying that IdP session (racing the logout) is refused, as after a back-channel logout
  const late = await sameIdpSession(laptop).login(`${a!.url}/`, 'alice');
  t.equal(late.status, 400, 'a late sign-in with the ended IdP session gets no session');
  t.equal(await signIn(env.stack.browser(), a!.url, 'alice').then((c) => statusOn(a!.url, c)), 200, 'a fresh IdP sign-in works');
});

t.test('without iss and sid: the browser’s own session ends and its cookie goes', async (t) => {
  const [a, b] = env.stack.replicas;
  const laptop = env.stack.browser();
  const mine = await signIn(laptop, a!.url, 'bob');
  const other = await signIn(env.stack.browser(), a!.url, 'bob');
  // as a same-site IdP's iframe would load it (a cross-site iframe gets no SameSite=Lax cookie)
  const res = await laptop.get(`${b!.url}${FRONTCHANNEL}`);
  t.equal(res.status, 200);
  t.ok(res.setCookies.some((c) => /^_portcullis=;/.test(c) && /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c)), 'the cookie is deleted');
  t.equal(await statusOn(a!.url, mine), 401, 'ended on both replicas');
  t.equal(await statusOn(b!.url, mine), 401);
  t.equal(await statusOn(a!.url, other), 200, 'another device lives on');

  // logout CSRF: another site sending the browser here top-level (a link, a redirect) ends nothing
  const victim = env.stack.browser();
  const victims = await signIn(victim, a!.url, 'bob');
  const lured = await victim.request(`${a!.url}${FRONTCHANNEL}`, {
    initiator: 'http://evil.example/',
    headers: { 'sec-fetch-dest': 'document', 'sec-fetch-site': 'cross-site' },
  });
  t.equal(lured.status, 400);
  t.notOk(lured.setCookies.some((c) => c.startsWith('_portcullis=')), 'the cookie stays');
  t.equal(await statusOn(a!.url, victims), 200, 'the session lives on');
  const framed = await victim.request(`${a!.url}${FRONTCHANNEL}`, { headers: { 'sec-fetch-dest': 'iframe', 'sec-fetch-site': 'same-site' } });
  t.equal(framed.status, 200, 'the IdP\'s frame still works');
  t.equal(await statusOn(a!.url, victims), 401);

  const nobody = await fetch(`${a!.url}${FRONTCHANNEL}`);
  t.equal(nobody.status, 200, 'no session: nothing to do, still 200');
  t.match(await nobody.text(), /No session/);
});

t.test('bad input is a clear 400, never a 500, and ends nothing', async (t) => {
  const [a] = env.stack.replicas;
  const issuer = env.stack.issuer;
  const browser = env.stack.browser();
  const cookie = await signIn(browser, a!.url, 'carol');
  const sid = idpSidOf(env.stack.idp!, browser);
  const cases: Array<[string, Array<[string, string]>]> = [
    ['wrong iss', [['iss', 'https://evil.example'], ['sid', sid]]],
    ['iss with a trailing slash', [['iss', `${issuer}/`], ['sid', sid]]],
    ['sid without iss', [['sid', sid]]],
    ['iss without sid', [['iss', issuer]]],
    ['repeated sid', [['iss', issuer], ['sid', sid], ['sid', 'other']]],
    ['repeated iss', [['iss', issuer], ['iss', issuer], ['sid', sid]]],
    ['empty sid', [['iss', issuer], ['sid', '']]],
    ['junk sid', [['iss', issuer], ['sid', 'a\u0000b c']]],
    ['huge sid', [['iss', issuer], ['sid', 'x'.repeat(5000)]]],
  ];
  for (const [name, params] of cases) {
    const res = await browser.get(frontchannelUrl(a!.url, params));
    t.equal(res.status, 400, name);
    t.match(res.body, /Bad request/, `${name}: a readable page`);
  }
  const junkEncoding = await browser.get(`${a!.url}${FRONTCHANNEL}?iss=%E0%A4%A&sid=%ZZ`);
  t.equal(junkEncoding.status, 400, 'broken percent-encoding');
  const post = await browser.request(`${a!.url}${FRONTCHANNEL}`, { method: 'POST', initiator: a!.url });
  t.equal(post.status, 405);
  t.equal(await statusOn(a!.url, cookie), 200, 'the session lives on');
});

t.test('every other gateway page still refuses to be framed', async (t) => {
  const [a] = env.stack.replicas;
  for (const path of ['/.portcullis/', '/.portcullis/signed-out', '/.portcullis/logout', '/.portcullis/nope']) {
    const res = await fetch(`${a!.url}${path}`, { redirect: 'manual' });
    await res.arrayBuffer();
    t.equal(res.headers.get('x-frame-options'), 'DENY', `${path}: X-Frame-Options`);
    t.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/, `${path}: CSP`);
  }
  const refused = await fetch(`${a!.url}${FRONTCHANNEL}?sid=x`);
  await refused.arrayBuffer();
  t.equal(refused.status, 400);
  t.equal(refused.headers.get('x-frame-options'), 'DENY', 'an error page is not framable either');
});
