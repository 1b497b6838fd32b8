import t from 'tap';
import { decodeJwt } from 'jose';
import { requestFrom, type PlainResponse } from '../support/request-from.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * GET /.portcullis/forward-auth (Traefik ForwardAuth, Caddy forward_auth relay its answer as is)
 * and /.portcullis/auth, called directly the way those proxies call them: X-Forwarded-Proto,
 * -Host, -Uri, -Method (or X-Original-URL + X-Original-Method) naming the original request.
 * Routes on the gateway's own origin (so the deep link after sign-in is servable): policy
 * app-admin (any signed-in user; /admin only for admins) and /public. Trusted: 127.0.0.1 only.
 */
let stack: Stack;
let host: string;
let bob: string;

t.before(async () => {
  stack = await startStack({
    routes: ({ url, upstream }) => [
      { from: url, to: upstream.url, policy: 'app-admin' },
      { from: `${url}/public`, to: upstream.url, public: true },
      // another host than public_url's: its cookie comes through the multi-domain handoff
      { from: url.replace('127.0.0.1', '127.0.0.3'), to: upstream.url, policy: 'app-admin' },
    ],
    config: () => ({ server: { trust_forwarded_headers: ['127.0.0.1', '::1'] } }),
  });
  host = new URL(stack.url).host;
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'bob');
  bob = `_portcullis=${browser.cookie('_portcullis')}`;
});
t.teardown(() => stack?.close());

const BROWSER = 'text/html,application/xhtml+xml,*/*;q=0.8';

/** What Traefik sends for an original `method uri` on this gateway's host. */
function traefik(uri: string, extra: Record<string, string> = {}, method = 'GET'): Record<string, string> {
  return { 'X-Forwarded-Proto': 'http', 'X-Forwarded-Host': host, 'X-Forwarded-Uri': uri, 'X-Forwarded-Method': method, ...extra };
}

function ask(headers: Record<string, string>, path = '/.portcullis/forward-auth', localAddress?: string): Promise<PlainResponse> {
  return requestFrom(`${stack.url}${path}`, headers, localAddress ? { localAddress } : {});
}

t.test('a host the session cookie cannot reach: the sign-in goes through the handoff, begun on that host', async (t) => {
  const other = host.replace('127.0.0.1', '127.0.0.3');
  const res = await ask({ ...traefik('/x?y=1', { accept: BROWSER }), 'X-Forwarded-Host': other });
  t.equal(res.status, 302);
  // that host sets the nonce cookie which binds the handoff ticket to this browser
  t.equal(res.headers.location, `http://${other}/.portcullis/handoff?rd=${encodeURIComponent(`http://${other}/x?y=1`)}`);
});

t.test('a browser without a session: 302 to sign in, and the deep link survives the whole login', async (t) => {
  const deepLink = `${stack.url}/deep/link?x=1&y=%2Fz&q=a+b`;
  const res = await ask(traefik('/deep/link?x=1&y=%2Fz&q=a+b', { accept: BROWSER }));
  t.equal(res.status, 302);
  const location = res.headers.location as string;
  t.equal(location, `${stack.url}/.portcullis/login?rd=${encodeURIComponent(deepLink)}`, 'to the sign-in on public_url, rd = the original URL');
  t.match(res.headers['content-type'], /text\/html/, 'a real page, not a bare "Found"');
  t.match(res.body, /<a class="button" href="[^"]+\.portcullis\/login\?rd=/, 'with a link to sign in');
  t.notOk(res.headers['set-cookie'], 'no cookie without one to delete');

  const browser = stack.browser();
  const landed = await browser.login(location, 'carol');
  t.equal(landed.status, 200, 'the sign-in completes');
  t.equal(landed.url, deepLink, 'and comes back to the deep link');
  t.equal(JSON.parse(landed.body).url, '/deep/link?x=1&y=%2Fz&q=a+b', 'query intact');

  const after = await ask(traefik('/deep/link', { cookie: `_portcullis=${browser.cookie('_portcullis')}`, accept: BROWSER }));
  t.equal(after.status, 200, 'the new session passes forward-auth');
  t.equal(after.headers['x-portcullis-user'], 'carol');
});

t.test('allowed: 200 with the identity headers (what Traefik copies with authResponseHeaders)', async (t) => {
  for (const path of ['/.portcullis/forward-auth', '/.portcullis/auth']) {
    const res = await ask(traefik('/reports?a=1', { cookie: bob, 'X-Portcullis-User': 'admin', 'X-Portcullis-Groups': 'admins' }), path);
    t.equal(res.status, 200, path);
    t.equal(res.headers['x-portcullis-user'], 'bob', 'the session user, not the one the client sent');
    t.equal(res.headers['x-portcullis-email'], 'bob@example.com');
    t.equal(res.headers['x-portcullis-groups'], 'staff');
    const claims = decodeJwt(res.headers['x-portcullis-jwt-assertion'] as string);
    t.match(claims, { sub: 'bob', iss: stack.url, aud: new URL(stack.upstream.url).origin }, 'the assertion for the route audience');
    t.equal(res.headers['cache-control'], 'no-store');
    t.equal(res.body, '');
  }
  const viaOriginalUrl = await ask({ cookie: bob, 'X-Original-URL': `${stack.url}/reports`, 'X-Original-Method': 'GET' });
  t.equal(viaOriginalUrl.status, 200, 'the X-Original-URL form works on /forward-auth too');
});

t.test('no session, not a browser page load: 401 with the challenge', async (t) => {
  const api = await ask(traefik('/api/x', { accept: 'application/json' }));
  t.equal(api.status, 401);
  t.match(api.headers['www-authenticate'], /^Cookie realm="portcullis", login_url="http:\/\/127\.0\.0\.1:\d+\/\.portcullis\/login"$/);
  t.equal(JSON.parse(api.body).error, 'GW_UNAUTHENTICATED');
  t.notOk(api.headers.location);
  const post = await ask(traefik('/form', { accept: BROWSER }, 'POST'));
  t.equal(post.status, 401, 'a browser POST is not sent to sign in');
  const nginxStyle = await ask({ accept: BROWSER, 'X-Original-URL': `${stack.url}/a?b=c&d=e`, 'X-Original-Method': 'GET' }, '/.portcullis/auth');
  t.equal(nginxStyle.status, 401, '/.portcullis/auth answers 401 for nginx, even to a browser');
  t.equal(nginxStyle.headers['x-portcullis-login'], `${stack.url}/.portcullis/login?rd=${encodeURIComponent(`${stack.url}/a?b=c&d=e`)}`, 'naming where nginx sends the browser');
  t.ok(nginxStyle.headers['www-authenticate']);
  const tampered = await ask(traefik('/x', { accept: 'application/json', cookie: '_portcullis=forged.value' }));
  t.equal(tampered.status, 401, 'a bad cookie means no session');
  t.match(tampered.headers['set-cookie'], [/^_portcullis=;/], 'and is deleted');
});

t.test('denied: 403 page for a user the policy refuses', async (t) => {
  const res = await ask(traefik('/admin/users', { cookie: bob, accept: BROWSER }));
  t.equal(res.status, 403);
  t.match(res.headers['content-type'], /text\/html/);
  t.match(res.body, /Access denied/);
  t.notOk(res.headers['x-portcullis-user'], 'no identity on a denial');
  const normalized = await ask(traefik('/public/../admin/users', { cookie: bob, accept: 'application/json' }));
  t.equal(normalized.status, 403, '/public/../admin is /admin: judged by policy, not public');
  const methodJudged = await ask(traefik('/admin', { cookie: bob, accept: 'application/json' }, 'DELETE'));
  t.equal(methodJudged.status, 403);
});

t.test('public route: 200 without identity, even with a session', async (t) => {
  const extras: Array<Record<string, string>> = [{}, { cookie: bob, 'X-Portcullis-User': 'admin' }];
  for (const extra of extras) {
    const res = await ask(traefik('/public/page', extra));
    t.equal(res.status, 200);
    t.notOk(res.headers['x-portcullis-user']);
    t.notOk(res.headers['x-portcullis-jwt-assertion']);
  }
});

t.test('the original request is refused exactly as on the proxy port, and must be named once and fully', async (t) => {
  const cases: Array<[string, Record<string, string>, number]> = [
    ['encoded slash', traefik('/public/..%2Fadmin', { cookie: bob }), 400],
    ['backslash', traefik('/public\\..\\admin', { cookie: bob }), 400],
    ['fragment', traefik('/admin#/public', { cookie: bob }), 400],
    ['case-confusable', traefik('/ADMIN', { cookie: bob }), 400],
    ['not a path', traefik('public/x'), 400],
    ['both forms', traefik('/public/x', { 'X-Original-URL': `${stack.url}/public/x`, 'X-Original-Method': 'GET' }), 400],
    ['neither form', { cookie: bob }, 400],
    ['no method', { 'X-Forwarded-Proto': 'http', 'X-Forwarded-Host': host, 'X-Forwarded-Uri': '/public/x' }, 400],
    ['bad proto', traefik('/public/x', { 'X-Forwarded-Proto': 'gopher' }), 400],
    ['no host', { 'X-Forwarded-Proto': 'http', 'X-Forwarded-Uri': '/public/x', 'X-Forwarded-Method': 'GET' }, 400],
    ['host with userinfo', traefik('/public/x', { 'X-Forwarded-Host': `evil@${host}` }), 400],
    ['bare path in X-Original-URL', { 'X-Original-URL': '/public/x', 'X-Original-Method': 'GET' }, 400],
    ['userinfo in X-Original-URL', { 'X-Original-URL': `http://evil@${host}/public/x`, 'X-Original-Method': 'GET' }, 400],
    ['space in X-Original-URL', { 'X-Original-URL': `${stack.url}/public/x /admin`, 'X-Original-Method': 'GET' }, 400],
    ['junk method', traefik('/public/x', { 'X-Forwarded-Method': 'GET /admin' }), 400],
    ['unknown host', traefik('/x', { cookie: bob, 'X-Forwarded-Host': 'elsewhere.example' }), 403],
    ['other port', traefik('/x', { cookie: bob, 'X-Forwarded-Host': '127.0.0.1:1' }), 403],
    ['https, route is http', traefik('/x', { cookie: bob, 'X-Forwarded-Proto': 'https' }), 403],
  ];
  for (const [name, headers, status] of cases) {
    const res = await ask({ accept: 'application/json', ...headers });
    t.equal(res.status, status, `${name}: ${res.body.slice(0, 160)}`);
    t.notOk(res.headers['x-portcullis-user'], `${name}: no identity`);
  }
});

t.test('an untrusted peer is refused and never judged, whatever it names', async (t) => {
  for (const path of ['/.portcullis/forward-auth', '/.portcullis/auth']) {
    const res = await ask(traefik('/public/x', { cookie: bob }), path, '127.0.0.2');
    t.equal(res.status, 403, `${path} from 127.0.0.2`);
    t.equal(JSON.parse(res.body).error, 'GW_UNTRUSTED_PROXY');
    const page = await ask(traefik('/x', { accept: BROWSER }), path, '127.0.0.2');
    t.equal(page.status, 403, 'a browser is not sent to sign in either');
    t.notOk(page.headers.location);
  }
  const proxied = await requestFrom(`${stack.url}/whoami`, { cookie: bob, 'X-Forwarded-Host': 'elsewhere.example', 'X-Forwarded-For': '203.0.113.9' }, { localAddress: '127.0.0.2' });
  t.equal(proxied.status, 200, 'on the proxy port, an untrusted peer’s X-Forwarded-Host is ignored (the route still matches)');
  t.equal(JSON.parse(proxied.body).headers['x-forwarded-for'], '127.0.0.2', 'and its X-Forwarded-For is replaced by its address');
  const trusted = await requestFrom(`${stack.url}/whoami`, { cookie: bob, 'X-Forwarded-For': '203.0.113.9' });
  t.equal(JSON.parse(trusted.body).headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1', 'control: a trusted peer’s chain is kept');
});

t.test('only GET and HEAD', async (t) => {
  const res = await requestFrom(`${stack.url}/.portcullis/forward-auth`, traefik('/x', { cookie: bob, accept: 'application/json' }), { method: 'POST' });
  t.equal(res.status, 405);
  const head = await requestFrom(`${stack.url}/.portcullis/auth`, traefik('/x', { cookie: bob }), { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers['x-portcullis-user'], 'bob');
});
