import t from 'tap';
import type { BrowserClient } from '../support/browser-client.js';
import { idpSidOf } from '../support/idp.js';
import { parseForms } from '../support/browser-client.js';
import { eventually, signInUntilCallback, startStack, type Stack } from '../support/stack.js';

/**
 * The OIDC endpoints through a real gateway, IdP and upstream: back-channel logout, several
 * tabs signing in at once, the IdP's error responses, and bad input on every endpoint.
 */
let stack: Stack;
t.before(async () => {
  stack = await startStack();
  await eventually(() => stack.replicas[0]!.gateway.isReady(), 10_000);
});
t.teardown(() => stack.close());

const API = { accept: 'application/json' };

async function status(browser: BrowserClient, path = '/whoami'): Promise<number> {
  const res = await fetch(`${stack.url}${path}`, { headers: { ...API, cookie: `_portcullis=${browser.cookie('_portcullis')}` } });
  await res.arrayBuffer();
  return res.status;
}

function backchannel(body: string | undefined, contentType = 'application/x-www-form-urlencoded') {
  return fetch(`${stack.url}/.portcullis/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
}

t.test('back-channel logout by sid ends exactly that session', async (t) => {
  const one = stack.browser();
  const two = stack.browser();
  t.equal((await one.login(`${stack.url}/one`, 'alice')).status, 200);
  t.equal((await two.login(`${stack.url}/two`, 'alice')).status, 200);
  t.equal(await status(one), 200);
  t.equal(await status(two), 200);

  t.equal(await stack.idp!.backchannelLogout('alice', { sid: idpSidOf(stack.idp!, one) }), 1);
  t.equal(await status(one), 401, 'the session of that IdP session is gone');
  t.equal(await status(two), 200, "the user's other session survives");
  const page = await one.get(`${stack.url}/one`);
  t.equal(page.status, 302, 'a browser with the dead cookie is sent to sign in again');

  t.equal(await stack.idp!.backchannelLogout('alice'), 2, 'the IdP notifies for both of its sessions');
  t.equal(await status(two), 401);

  const metrics = await (await fetch(`${stack.adminUrl}/metrics`)).text();
  t.match(metrics, /portcullis_logouts_total\{kind="backchannel"\} 2/);
});

t.test('back-channel logout: bad requests are 400 invalid_request JSON, never 500', async (t) => {
  const cases: Array<[string, Promise<Response>]> = [
    ['no body', backchannel(undefined)],
    ['no logout_token', backchannel('foo=bar')],
    ['empty logout_token', backchannel('logout_token=')],
    ['garbage token', backchannel('logout_token=not.a.jwt')],
    ['an unsigned token', backchannel(`logout_token=${Buffer.from('{"alg":"none"}').toString('base64url')}.e30.`)],
    ['JSON instead of a form', backchannel('{"logout_token":"x"}', 'application/json')],
    ['huge body', backchannel(`logout_token=${'a'.repeat(200_000)}`)],
    ['broken percent-encoding', backchannel('logout_token=%E0%A4%A')],
  ];
  for (const [name, pending] of cases) {
    const res = await pending;
    t.equal(res.status, 400, name);
    t.equal(res.headers.get('cache-control'), 'no-store', `${name}: no-store`);
    t.match(await res.json(), { error: 'invalid_request' }, name);
  }
  const get = await fetch(`${stack.url}/.portcullis/backchannel-logout`, { headers: API });
  t.equal(get.status, 405);
});

t.test('several tabs can sign in at once and each returns to its own page', async (t) => {
  const browser = stack.browser();
  const a = await signInUntilCallback(browser, `${stack.url}/tab-a?x=1`, 'judy');
  const b = await signInUntilCallback(browser, `${stack.url}/tab-b`, 'judy');
  const pending = browser.jar.all().filter((c) => c.name.startsWith('_portcullis_tx_'));
  t.equal(pending.length, 2, 'one transaction cookie per tab');
  const second = await browser.get(b);
  t.equal(second.status, 302);
  t.equal(second.location, `${stack.url}/tab-b`);
  const first = await browser.get(a);
  t.equal(first.status, 302);
  t.equal(first.location, `${stack.url}/tab-a?x=1`);
  t.equal(browser.jar.all().filter((c) => c.name.startsWith('_portcullis_tx_')).length, 0, 'both spent and deleted');
  t.equal((await browser.get(a)).status, 400, 'a replayed callback is refused');
});

t.test('cancelling at the IdP comes back as a clear 403 page and the transaction is dropped', async (t) => {
  const browser = stack.browser();
  const form = await browser.navigate(`${stack.url}/cancel-me`);
  t.ok(parseForms(form.body, form.url).some((f) => f.fields.prompt === 'login'), 'at the IdP sign-in form');
  const cancel = /href="([^"]*\/abort)"/.exec(form.body)?.[1];
  t.ok(cancel, 'the IdP offers cancel');
  const back = await browser.follow(await browser.get(new URL(cancel!.replace(/&amp;/g, '&'), form.url).href), 10);
  t.equal(back.status, 403);
  t.match(back.headers.get('content-type'), /text\/html/);
  t.match(back.body, /cancelled or refused/);
  t.equal(browser.jar.all().filter((c) => c.name.startsWith('_portcullis_tx_')).length, 0);
});

t.test('callback bad input: tampered transaction cookie, garbage parameters, huge values', async (t) => {
  const browser = stack.browser();
  const callbackUrl = await signInUntilCallback(browser, `${stack.url}/tamper`, 'kim');
  const tx = browser.jar.all().find((c) => c.name.startsWith('_portcullis_tx_'))!;
  const middle = Math.floor(tx.value.length / 2);
  browser.jar.put({ ...tx, value: `${tx.value.slice(0, middle)}${tx.value[middle] === 'A' ? 'B' : 'A'}${tx.value.slice(middle + 1)}` });
  const res = await browser.get(callbackUrl);
  t.equal(res.status, 400);
  t.notOk(browser.cookie('_portcullis'), 'no session from a tampered transaction');

  const urls = [
    '/.portcullis/callback',
    '/.portcullis/callback?code=x',
    '/.portcullis/callback?state=',
    `/.portcullis/callback?code=x&state=${'s'.repeat(3000)}`,
    '/.portcullis/callback?code=x&state=y&state=z',
    '/.portcullis/callback?error=%3Cscript%3E&state=q',
    `/.portcullis/callback?error=${'e'.repeat(3000)}`,
  ];
  for (const path of urls) {
    const r = await fetch(`${stack.url}${path}`, { headers: { ...API, cookie: '_portcullis_tx_abc=%%%; _portcullis=garbage' } });
    t.ok(r.status >= 400 && r.status < 500, `${path.slice(0, 60)} → ${r.status}`);
    t.notMatch(await r.text(), /<script>/);
  }
});

t.test('login: a missing rd lands on the portal page; rd back into /.portcullis does not loop', async (t) => {
  const browser = stack.browser();
  const start = await browser.get(`${stack.url}/.portcullis/login`);
  t.equal(start.status, 302);
  t.equal(new URL(start.location!).origin, stack.issuer);
  const done = await browser.login(`${stack.url}/.portcullis/login?rd=${encodeURIComponent(`${stack.url}/.portcullis/login`)}`, 'leo');
  t.equal(done.status, 200);
  t.equal(done.url, `${stack.url}/.portcullis/`);
});
