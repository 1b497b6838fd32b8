import t, { type Test } from 'tap';
import { getRequest, json, rawRequest } from '../fuzz/harness.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * Regression tests for the published advisories of comparable gateways that apply to us, one
 * subtest per advisory, through a real gateway, a real IdP and a real upstream.
 * Routes: the gateway's own origin (policy deny-secrets: any signed-in user except /docs/secret
 * and /admin), /public (public), /mail (policy example-com: e-mail domain example.com), and
 * a wildcard *.example.test (where `rd` may point).
 */
let stack: Stack;
let host: string;
let port: number;
let alice: string;

t.before(async () => {
  stack = await startStack({
    policiesDir: 'security-policies',
    routes: ({ url, upstream, port }) => [
      { from: url, to: upstream.url, policy: 'deny-secrets' },
      { from: `${url}/public`, to: upstream.url, public: true },
      { from: `${url}/mail`, to: upstream.url, policy: 'example-com' },
      { from: `http://*.example.test:${port}`, to: upstream.url, policy: 'everyone' },
    ],
  });
  host = new URL(stack.url).host;
  port = Number(new URL(stack.url).port);
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'alice');
  alice = `_portcullis=${browser.cookie('_portcullis')}`;
});
t.teardown(() => stack?.close());

function get(target: string, lines: string[] = []) {
  return rawRequest(port, getRequest(target, host, ['Accept: application/json', ...lines]));
}

/** `rd` values that must be refused (400), each with why. */
async function refusesRedirects(t: Test, cases: [string, string][]) {
  for (const [rd, why] of cases) {
    const res = await get(`/.portcullis/login?rd=${encodeURIComponent(rd)}`);
    t.equal(res.status, 400, `${why}: ${JSON.stringify(rd)}`);
    t.notOk(res.headers.get('location'), `no Location for ${JSON.stringify(rd)}`);
  }
}

t.test('control: an rd on a configured route starts the sign-in', async (t) => {
  for (const rd of [`${stack.url}/app`, '/app?x=1']) {
    const res = await get(`/.portcullis/login?rd=${encodeURIComponent(rd)}`);
    t.equal(res.status, 302, rd);
    t.match(res.headers.get('location')?.[0], new RegExp(`^${stack.issuer}/`), `${rd} goes to the IdP`);
  }
  // a route host the session cookie cannot reach signs in through the handoff, which begins on
  // that host (it binds the ticket to that browser with a nonce cookie)
  const other = `http://team.example.test:${port}/x`;
  const res = await get(`/.portcullis/login?rd=${encodeURIComponent(other)}`);
  t.equal(res.status, 302, other);
  t.equal(res.headers.get('location')?.[0], `http://team.example.test:${port}/.portcullis/handoff?rd=${encodeURIComponent(other)}`, 'to the handoff on that host');
});

t.test('oauth2-proxy CVE-2020-5233: open redirect through rd with whitespace', async (t) => {
  await refusesRedirects(t, [
    ['/\t/evil.example', 'a tab that browsers drop turns /\\t/ into //'],
    [' //evil.example', 'leading space'],
    ['/ /evil.example', 'space between the slashes'],
    ['/%09/evil.example', 'encoded tab'],
    [`${stack.url} @evil.example`, 'space before an @'],
    ['\u3000//evil.example', 'ideographic space'],
  ]);
});

t.test('oauth2-proxy CVE-2020-11053: open redirect through rd with backslashes', async (t) => {
  await refusesRedirects(t, [
    ['/\\evil.example', 'browsers read /\\ as //'],
    ['\\\\evil.example', 'two backslashes'],
    ['/%5Cevil.example', 'encoded backslash'],
    ['/%5c%5cevil.example', 'two encoded backslashes'],
    ['https:\\\\evil.example', 'scheme then backslashes'],
    [`http:/\\evil.example`, 'slash-backslash after the scheme'],
  ]);
});

t.test('oauth2-proxy CVE-2020-4037: open redirect through rd with control characters and scheme tricks', async (t) => {
  await refusesRedirects(t, [
    ['/\n/evil.example', 'newline'],
    ['/%0a/evil.example', 'encoded newline'],
    ['/%0d%0aLocation:%20https://evil.example', 'header injection'],
    ['//evil.example', 'scheme-relative'],
    ['///evil.example', 'three slashes'],
    ['https:evil.example', 'scheme without slashes'],
    ['javascript:alert(1)', 'javascript:'],
    ['data:text/html,<script>alert(1)</script>', 'data:'],
    [`http://user:pass@127.0.0.1:${port}/`, 'credentials'],
  ]);
});

t.test('oauth2-proxy CVE-2021-21291: open redirect through rd with suffix domains', async (t) => {
  await refusesRedirects(t, [
    [`http://evilexample.test:${port}/`, 'a host that merely ends with the wildcard domain'],
    [`http://example.test:${port}/`, 'the bare domain of a *. wildcard'],
    [`http://team.example.test.evil.example:${port}/`, 'the allowed domain followed by another'],
    [`http://127.0.0.1:${port}.evil.example/`, 'the gateway host as a label prefix'],
    [`http://evil.example/127.0.0.1:${port}`, 'the gateway host in the path'],
    [`http://127.0.0.1:${port}@evil.example/`, 'the gateway host as userinfo'],
    [`http://team.example.test:${port + 1}/`, 'right host, another port'],
  ]);
});

t.test('oauth2-proxy CVE-2025-54576: rules are matched against the path, never path plus query', async (t) => {
  stack.upstream.requests.length = 0;
  const signedOut = await get('/admin?/public');
  t.equal(signedOut.status, 401, 'a query naming a public path does not make /admin public');
  const signedOutDeep = await get('/docs/secret?x=/public/');
  t.equal(signedOutDeep.status, 401);
  t.equal(stack.upstream.requests.length, 0, 'nothing reached the upstream without a session');
  for (const target of ['/admin?/public', '/admin?x=/ok', '/docs/secret?/docs/public', '/docs/secret/?a=b']) {
    t.equal((await get(target, [`Cookie: ${alice}`])).status, 403, `${target} is judged by its path`);
  }
  const allowed = await get('/ok?/admin', [`Cookie: ${alice}`]);
  t.equal(allowed.status, 200, 'a query naming a denied path does not deny an allowed one');
  t.equal(json(allowed.body)?.url, '/ok?/admin', 'the query goes upstream untouched');
});

t.test('fragment in the request target (reported 2026): the path before "#" is what a rule sees', async (t) => {
  stack.upstream.requests.length = 0;
  for (const target of ['/docs/secret#x', '/admin#', '/public#/../admin', '/public/#/../../admin', '/ok#/../admin']) {
    const res = await get(target, [`Cookie: ${alice}`]);
    t.ok(res.status === 400 || res.status === 403, `${target} is refused (${res.status})`);
  }
  const signedOut = await get('/public#/../admin');
  t.ok(signedOut.status === 400 || signedOut.status === 401, `signed out, /public#/../admin is not public (${signedOut.status})`);
  t.same(stack.upstream.requests.map((r) => r.url), [], 'none of them reached the upstream');
});

t.test('spoofed X-Forwarded-Uri (reported 2026)', async (t) => {
  t.test('on the proxy port, client X-Forwarded-Uri / X-Original-URL / X-Rewrite-URL change nothing', async (t) => {
    const spoof = ['X-Forwarded-Uri: /ok', 'X-Original-URL: /ok', 'X-Rewrite-URL: /ok', 'X-Forwarded-Prefix: /ok'];
    t.equal((await get('/admin', [`Cookie: ${alice}`, ...spoof])).status, 403, 'the request target is judged, not the headers');
    t.equal((await get('/public/x', ['X-Original-URL: /admin'])).status, 200, 'control: the public route');
    stack.upstream.requests.length = 0;
    await get('/ok', [`Cookie: ${alice}`, 'X-Forwarded-Uri: /admin', 'X-Original-URL: /admin', 'X-Rewrite-URL: /admin']);
    const received = stack.upstream.last()?.headers ?? {};
    t.notOk(received['x-forwarded-uri'], 'an untrusted X-Forwarded-Uri does not reach the upstream');
  });
  t.test(
    'the upstream never receives a client X-Original-URL / X-Rewrite-URL (IIS, Symfony and Zend route by them)',
    async (t) => {
      stack.upstream.requests.length = 0;
      await get('/ok', [`Cookie: ${alice}`, 'X-Original-URL: /admin', 'X-Rewrite-URL: /admin']);
      const received = stack.upstream.last()?.headers ?? {};
      t.notOk(received['x-original-url'], 'X-Original-URL dropped');
      t.notOk(received['x-rewrite-url'], 'X-Rewrite-URL dropped');
    },
  );
  t.test('forward-auth judges X-Forwarded-Uri only from a trusted proxy', async (t) => {
    // this gateway trusts no proxy: a client that names an allowed URI must not get a 200 for it
    // (a trusted-list gateway and an untrusted peer: test/integration/forward-auth*.test.ts)
    for (const path of ['/.portcullis/auth', '/.portcullis/forward-auth']) {
      const res = await get(path, [`Cookie: ${alice}`, 'X-Forwarded-Method: GET', `X-Forwarded-Host: ${host}`, 'X-Forwarded-Uri: /ok', 'X-Forwarded-Proto: http']);
      t.equal(res.status, 403, `${path}: untrusted X-Forwarded-Uri is not judged`);
      t.equal(json(res.body)?.error, 'GW_UNTRUSTED_PROXY');
      t.notOk(res.headers.get('x-portcullis-user'), 'no identity handed out');
      const named = await get(path, [`Cookie: ${alice}`, `X-Original-URL: http://${host}/ok`, 'X-Original-Method: GET']);
      t.equal(named.status, 403, `${path}: nor an untrusted X-Original-URL`);
    }
  });
});

t.test(
  'an e-mail claim with two "@" does not pass an email_domain rule (reported 2026)',
  async (t) => {
  const browser = stack.browser();
  const landed = await browser.login(`${stack.url}/mail/inbox`, 'mallory@evil.example@example.com');
  t.not(landed.status, 200, `the sign-in does not land on the app (${landed.status})`);
  const cookie = `_portcullis=${browser.cookie('_portcullis')}`;
  stack.upstream.requests.length = 0;
  const res = await get('/mail/inbox', [`Cookie: ${cookie}`]);
  t.equal(res.status, 403, 'mallory@evil.example@example.com is not an example.com address');
  t.equal(stack.upstream.requests.length, 0);
  const control = stack.browser();
  await control.login(`${stack.url}/mail/inbox`, 'bob');
  t.equal((await get('/mail/inbox', [`Cookie: _portcullis=${control.cookie('_portcullis')}`])).status, 200, 'control: bob@example.com passes');
  },
);

t.test('session fixation: a sign-in never keeps a session cookie that was already there', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'carol');
  const planted = browser.cookie('_portcullis')!;
  t.equal((await get('/ok', [`Cookie: _portcullis=${planted}`])).status, 200, 'the first session works');
  // sign in again with the old cookie still in the jar, as after an attacker planted a session
  // cookie of theirs (the IdP session lets this sign-in through without a form)
  const again = await browser.navigate(`${stack.url}/.portcullis/login?rd=${encodeURIComponent(`${stack.url}/`)}`, 12);
  t.equal(again.status, 200, 'the second sign-in lands on the app');
  const fresh = browser.cookie('_portcullis');
  t.ok(fresh, 'a session cookie after the second sign-in');
  t.not(fresh, planted, 'a new cookie value');
  const echoed = json((await get('/ok', [`Cookie: _portcullis=${fresh}`])).body);
  t.ok(echoed?.headers?.['x-portcullis-user'], 'the new session works');
  t.equal((await get('/ok', [`Cookie: _portcullis=${planted}`])).status, 401, 'the old session ended with the new sign-in');
});

t.test('Pomerium CVE-2024-39315: no tokens on the user page or the identity endpoints', async (t) => {
  const tokens = [...stack.idp!.entries('AccessToken'), ...stack.idp!.entries('RefreshToken')].map((e) => e.id);
  t.ok(tokens.length > 0, 'the IdP issued tokens to look for');
  for (const path of ['/.portcullis/', '/.portcullis/userinfo', '/.portcullis/sessions']) {
    for (const accept of ['text/html', 'application/json']) {
      const res = await rawRequest(port, getRequest(path, host, [`Accept: ${accept}`, `Cookie: ${alice}`]));
      t.equal(res.status, 200, `${path} (${accept})`);
      t.notMatch(res.body, /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./, `${path} shows no JWT (id token, access token)`);
      t.notOk(tokens.some((token) => res.body.includes(token)), `${path} shows no IdP access or refresh token`);
      t.notMatch(res.body, /access_token|refresh_token|id_token/, `${path} names no token field`);
    }
  }
});

t.test('Pomerium CVE-2022-24797: no metrics or debug endpoints on the proxy port', async (t) => {
  const paths = ['/metrics', '/debug/pprof/', '/debug/vars', '/healthz', '/readyz', '/.portcullis/metrics', '/.portcullis/debug', '/.well-known/portcullis/metrics'];
  for (const path of paths) {
    for (const lines of [[], [`Cookie: ${alice}`]]) {
      const res = await get(path, lines);
      t.notMatch(res.body, /# (HELP|TYPE) portcullis_|process_cpu|nodejs_heap/, `${path}${lines.length ? ' (signed in)' : ''} serves no metrics (${res.status})`);
    }
  }
  const admin = await fetch(`${stack.adminUrl}/metrics`);
  t.equal(admin.status, 200, 'control: the admin port serves them');
  t.match(await admin.text(), /# HELP portcullis_/);
});
