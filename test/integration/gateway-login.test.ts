import t from 'tap';
import { signInUntilCallback, startStack, type Stack } from '../support/stack.js';

/** Login: redirect vs 401, the code flow, the session cookie, state handling, rd validation. */
let stack: Stack;
t.before(async () => {
  stack = await startStack();
});
t.teardown(() => stack.close());

const JSON_ACCEPT = { accept: 'application/json' };

t.test('a browser without a session is sent to the IdP with PKCE S256, state and nonce', async (t) => {
  const browser = stack.browser();
  const res = await browser.get(`${stack.url}/docs?x=1`);
  t.equal(res.status, 302);
  const location = new URL(res.location!);
  t.equal(location.origin, stack.issuer);
  t.equal(location.searchParams.get('code_challenge_method'), 'S256');
  t.ok(location.searchParams.get('code_challenge'));
  t.ok(location.searchParams.get('state'));
  t.ok(location.searchParams.get('nonce'));
  t.equal(location.searchParams.get('redirect_uri'), `${stack.url}/.portcullis/callback`);
  t.equal(res.headers.get('cache-control'), 'no-store');
  t.ok(res.setCookies.some((c) => c.includes('Path=/.portcullis/callback')), 'transaction cookie on the callback path');
});

t.test('an API client gets 401 with WWW-Authenticate and a JSON body with a request id', async (t) => {
  const res = await fetch(`${stack.url}/api/things`, { headers: JSON_ACCEPT });
  t.equal(res.status, 401);
  t.match(res.headers.get('www-authenticate'), /realm="portcullis"/);
  const body = (await res.json()) as Record<string, string>;
  t.equal(body.error, 'GW_UNAUTHENTICATED');
  t.equal(body.request_id, res.headers.get('x-request-id'));
  t.equal(stack.upstream.requests.length, 0, 'nothing reached the upstream');
});

t.test('login returns to the first URL and the upstream sees the identity', async (t) => {
  const browser = stack.browser();
  const page = await browser.login(`${stack.url}/docs/page?q=1`, 'alice');
  t.equal(page.status, 200);
  t.equal(page.url, `${stack.url}/docs/page?q=1`);
  const seen = JSON.parse(page.body) as { url: string; headers: Record<string, string> };
  t.equal(seen.url, '/docs/page?q=1');
  t.equal(seen.headers['x-portcullis-user'], 'alice');
  t.equal(seen.headers['x-portcullis-email'], 'alice@example.com');
  t.equal(seen.headers['x-portcullis-groups'], 'staff');
  t.notOk(String(seen.headers.cookie ?? '').includes('_portcullis='), 'the gateway cookie never reaches the upstream');

  const cookie = browser.cookie('_portcullis');
  t.ok(cookie, 'session cookie stored');
  t.ok(cookie!.length >= 43, 'cookie carries at least 256 bits of id plus a MAC');

  const again = await browser.get(`${stack.url}/docs/other`);
  t.equal(again.status, 200);
  t.same(again.setCookies, [], 'no Set-Cookie on an ordinary request');
});

t.test('the session cookie has the right attributes and a new id at every login', async (t) => {
  const browser = stack.browser();
  const callbackUrl = await signInUntilCallback(browser, `${stack.url}/x`, 'bob');
  const callback = await browser.get(callbackUrl);
  t.equal(callback.status, 302);
  const header = callback.setCookies.find((c) => c.startsWith('_portcullis='));
  t.ok(header, 'the callback sets the session cookie');
  t.match(header, /HttpOnly/);
  t.match(header, /Path=\//);
  t.match(header, /SameSite=Lax/);
  t.match(header, /Max-Age=\d+/);
  t.notMatch(header, /Secure/, 'no Secure flag over plain http');

  const old = browser.cookie('_portcullis')!;
  const again = await browser.login(`${stack.url}/.portcullis/login?rd=${encodeURIComponent(`${stack.url}/again`)}`, 'bob');
  t.equal(again.status, 200);
  const renewed = browser.cookie('_portcullis')!;
  t.not(renewed, old, 'logging in again issues a new session id');
  const replay = await fetch(`${stack.url}/`, { headers: { cookie: `_portcullis=${old}`, ...JSON_ACCEPT } });
  t.equal(replay.status, 401, 'the replaced session is gone');
  const current = await fetch(`${stack.url}/`, { headers: { cookie: `_portcullis=${renewed}`, ...JSON_ACCEPT } });
  t.equal(current.status, 200);
});

t.test('garbage and tampered cookies are treated as no session', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'carol');
  const good = browser.cookie('_portcullis')!;
  const tampered = good.slice(0, -2) + (good.endsWith('A') ? 'BB' : 'AA');
  for (const value of ['garbage', '', 'v1.x.y.z', tampered, 'a'.repeat(5000), '%%%', 'v1..1.']) {
    const res = await fetch(`${stack.url}/`, { headers: { cookie: `_portcullis=${value}`, ...JSON_ACCEPT } });
    t.equal(res.status, 401, `cookie ${JSON.stringify(value.slice(0, 20))} → 401`);
  }
  const html = await fetch(`${stack.url}/`, { headers: { cookie: '_portcullis=garbage', accept: 'text/html' }, redirect: 'manual' });
  t.equal(html.status, 302, 'a browser with a garbage cookie is sent to sign in');
});

t.test('callback: unknown, reused or missing state is a 400, never a 500', async (t) => {
  const browser = stack.browser();
  const unknown = await browser.get(`${stack.url}/.portcullis/callback?code=abc&state=nope`);
  t.equal(unknown.status, 400);
  const missing = await browser.get(`${stack.url}/.portcullis/callback`);
  t.equal(missing.status, 400);
  const junk = await browser.get(`${stack.url}/.portcullis/callback?state=${'%'.repeat(3)}&code=`);
  t.ok(junk.status === 400, `junk state → ${junk.status}`);

  // capture a real callback URL, use it, then replay it
  const b = stack.browser();
  const callbackUrl = await signInUntilCallback(b, `${stack.url}/replay`, 'dave');
  const first = await b.get(callbackUrl);
  t.equal(first.status, 302);
  t.equal(first.location, `${stack.url}/replay`);
  const replay = await b.get(callbackUrl);
  t.equal(replay.status, 400, 'a used state cannot be used again');

  const denied = await browser.get(`${stack.url}/.portcullis/callback?error=access_denied&state=zzz`);
  t.ok(denied.status >= 400 && denied.status < 500, `IdP error → ${denied.status}`);
});

t.test('rd must be on a configured route: no open redirect', async (t) => {
  const browser = stack.browser();
  const bad = [
    'https://evil.example',
    '//evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    'javascript:alert(1)',
    'http://127.0.0.1:1/elsewhere',
    `${stack.url.replace('http:', 'https:')}/`,
    'http://user:pass@127.0.0.1/',
    '/%0d%0aSet-Cookie:x=y',
  ];
  for (const rd of bad) {
    const res = await browser.get(`${stack.url}/.portcullis/login?rd=${encodeURIComponent(rd)}`);
    t.equal(res.status, 400, `rd=${rd} refused`);
  }
  const ok = await browser.get(`${stack.url}/.portcullis/login?rd=${encodeURIComponent(`${stack.url}/deep/link`)}`);
  t.equal(ok.status, 302);
  t.equal(new URL(ok.location!).origin, stack.issuer);
  const relative = await browser.get(`${stack.url}/.portcullis/login?rd=${encodeURIComponent('/deep/link')}`);
  t.equal(relative.status, 302);
});

t.test('no redirect loop: a login that completes always lands on the app', async (t) => {
  const browser = stack.browser();
  const page = await browser.login(`${stack.url}/loop-check`, 'erin');
  t.equal(page.status, 200);
  t.ok(page.chain.length < 12);
});
