import { readFileSync } from 'node:fs';
import t from 'tap';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { nginxMissing, startNginx, type RunningNginx } from '../support/nginx.js';
import { freePorts } from '../support/ports.js';
import { requestFrom } from '../support/request-from.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * Forward-auth through a real nginx (auth_request) in front of the app, with the gateway judging:
 * the nginx config is docs/examples/nginx-forward-auth.conf itself, with its addresses replaced.
 * Routes (on nginx's origin): policy app-admin (any signed-in user; /admin only for the admins
 * group) and /public (public). The gateway trusts forwarded headers from 127.0.0.1 only.
 */
const EXAMPLE = new URL('../../../docs/examples/nginx-forward-auth.conf', import.meta.url);

const missing = nginxMissing();
if (missing) {
  t.plan(0, missing);
} else {
  let stack: Stack;
  let nginx: RunningNginx;
  let origin: string;

  t.before(async () => {
    const [port] = await freePorts(1);
    origin = `http://127.0.0.1:${port}`;
    stack = await startStack({
      routes: ({ upstream }) => [
        { from: origin, to: upstream.url, policy: 'app-admin' },
        { from: `${origin}/public`, to: upstream.url, public: true },
      ],
      config: () => ({ server: { trust_forwarded_headers: ['127.0.0.1'] } }),
    });
    const example = readFileSync(EXAMPLE, 'utf8');
    const conf = example
      .replace('listen 80;', `listen 127.0.0.1:${port};`)
      .replace('server_name app.example.com;', 'server_name 127.0.0.1;')
      .replaceAll('http://app.example.com', origin)
      .replace('server portcullis.internal:8080;', `server ${new URL(stack.url).host};`)
      .replace('server app.internal:3000;', `server ${new URL(stack.upstream.url).host};`);
    t.not(conf, example, 'the example config was adapted');
    nginx = await startNginx(conf, `${origin}/public/ready`);
  });
  t.teardown(async () => {
    await nginx?.stop();
    await stack?.close();
  });

  const json = (body: string) => JSON.parse(body) as { url: string; method: string; body: string; headers: Record<string, string | undefined> };

  t.test('a browser signs in through nginx and lands on the deep link it asked for, as itself', async (t) => {
    const browser = stack.browser();
    const deepLink = `${origin}/reports/q3?year=2026&a=b%2Fc`;
    const first = await browser.get(deepLink);
    t.equal(first.status, 302, 'nginx answers the 401 with a redirect');
    t.equal(first.location, `${stack.url}/.portcullis/login?rd=${encodeURIComponent(deepLink)}`, 'to the gateway sign-in, keeping the whole URL');
    const landed = await browser.login(deepLink, 'alice');
    t.equal(landed.status, 200, 'back on the app after the IdP');
    t.equal(landed.url, deepLink, 'at the deep link');
    const seen = json(landed.body);
    t.equal(seen.url, '/reports/q3?year=2026&a=b%2Fc', 'the app got the original target');
    t.equal(seen.headers['x-portcullis-user'], 'alice', 'identity from auth_request_set');
    t.equal(seen.headers['x-portcullis-email'], 'alice@example.com');
    t.equal(seen.headers['x-portcullis-groups'], 'staff');
    const { payload } = await jwtVerify(seen.headers['x-portcullis-jwt-assertion'] ?? '', createRemoteJWKSet(new URL(`${stack.url}/.well-known/portcullis/jwks.json`)), {
      issuer: stack.url,
      audience: new URL(stack.upstream.url).origin,
    });
    t.equal(payload.sub, 'alice', 'the assertion verifies with the JWKS and names alice');
    t.notMatch(seen.headers.cookie ?? '', /_portcullis/, 'the app never sees the gateway cookie');
    const session = `_portcullis=${browser.cookie('_portcullis')}`;
    for (const [cookie, kept] of [
      [`theme=dark; ${session}; lang=en`, ['theme=dark', 'lang=en']],
      [`${session}; my_portcullis=1`, ['my_portcullis=1']],
      [`a=1; ${session}`, ['a=1']],
    ] as const) {
      const res = await requestFrom(`${origin}/cookies`, { cookie });
      t.equal(res.status, 200);
      const got = json(res.body).headers.cookie ?? '';
      t.notMatch(got, /(^|[;\s])_portcullis=/, `gateway cookie dropped from "${cookie.replace(session, '_portcullis=…')}"`);
      for (const name of kept) t.match(got, name, `${name} kept`);
    }

    const again = await browser.get(`${origin}/other`);
    t.equal(again.status, 200, 'the session serves the next request without a sign-in');
    const post = await browser.request(`${origin}/form`, { method: 'POST', body: 'a=1', headers: { 'content-type': 'text/plain' } });
    t.equal(post.status, 200, 'a POST passes too');
    t.match(json(post.body), { method: 'POST', body: 'a=1' }, 'with its method and body');
  });

  t.test('denied: 403 for a signed-in user the policy refuses, 200 for one it allows', async (t) => {
    const alice = stack.browser();
    await alice.login(`${origin}/`, 'alice');
    stack.upstream.requests.length = 0;
    t.equal((await alice.get(`${origin}/admin/users`)).status, 403, 'alice is not an admin');
    t.equal((await alice.get(`${origin}/x/../admin/users`)).status, 403, 'dot segments are judged after normalization');
    t.equal(stack.upstream.requests.length, 0, 'nothing reached the app');
    const admin = stack.browser();
    await admin.login(`${origin}/`, 'admin');
    const res = await admin.get(`${origin}/admin/users`);
    t.equal(res.status, 200, 'admin passes');
    t.equal(json(res.body).headers['x-portcullis-groups'], 'staff,admins');
  });

  t.test('an API client without a session gets 401 with the challenge, not a redirect', async (t) => {
    stack.upstream.requests.length = 0;
    const res = await fetch(`${origin}/api/things`, { headers: { accept: 'application/json' }, redirect: 'manual' });
    t.equal(res.status, 401);
    t.notOk(res.headers.get('location'), 'no redirect');
    t.match(res.headers.get('www-authenticate'), /login_url="http:\/\/127\.0\.0\.1:\d+\/\.portcullis\/login"/, 'the gateway challenge');
    const browserPost = await fetch(`${origin}/form`, { method: 'POST', headers: { accept: 'text/html' }, body: 'x', redirect: 'manual' });
    t.equal(browserPost.status, 401, 'a POST is not a page load: 401, not a sign-in redirect');
    t.equal(stack.upstream.requests.length, 0, 'nothing reached the app');
  });

  t.test('public route: 200 without identity, and client-sent identity headers never reach the app', async (t) => {
    stack.upstream.requests.length = 0;
    const res = await fetch(`${origin}/public/page`, { headers: { 'X-Portcullis-User': 'admin', 'X-Portcullis-Groups': 'admins' } });
    t.equal(res.status, 200);
    const seen = json(await res.text());
    t.notOk(seen.headers['x-portcullis-user'], 'no user');
    t.notOk(seen.headers['x-portcullis-groups'], 'no groups');
  });

  t.test('spoofed X-Original-URL / X-Forwarded-Uri from the client change nothing (nginx sets them)', async (t) => {
    const alice = stack.browser();
    await alice.login(`${origin}/`, 'alice');
    const cookie = `_portcullis=${alice.cookie('_portcullis')}`;
    const spoof = {
      cookie,
      accept: 'application/json',
      'X-Original-URL': `${origin}/ok`,
      'X-Original-Method': 'GET',
      'X-Forwarded-Uri': '/ok',
      'X-Forwarded-Method': 'GET',
      'X-Forwarded-Host': new URL(origin).host,
      'X-Forwarded-Proto': 'http',
    };
    stack.upstream.requests.length = 0;
    const denied = await requestFrom(`${origin}/admin`, spoof);
    t.equal(denied.status, 403, '/admin is judged, not the /ok the client named');
    const publicNamed = await requestFrom(`${origin}/admin`, { ...spoof, 'X-Original-URL': `${origin}/public/x`, 'X-Forwarded-Uri': '/public/x' });
    t.equal(publicNamed.status, 403, 'naming a public URL does not help either');
    t.equal(stack.upstream.requests.length, 0);
    const signedOut = await requestFrom(`${origin}/secret`, { accept: 'application/json', 'X-Original-URL': `${origin}/public/x`, 'X-Forwarded-Uri': '/public/x' });
    t.equal(signedOut.status, 401, 'without a session, /secret stays closed whatever the headers say');
    const asAdmin = await requestFrom(`${origin}/ok`, { ...spoof, 'X-Portcullis-User': 'admin', 'X-Portcullis-Groups': 'admins' });
    t.equal(asAdmin.status, 200);
    t.equal(json(asAdmin.body).headers['x-portcullis-user'], 'alice', 'the gateway says who the user is, not the client');
    t.equal(json(asAdmin.body).headers['x-portcullis-groups'], 'staff');
  });

  t.test('a direct call to the gateway from an untrusted address is refused, whatever it names', async (t) => {
    const alice = stack.browser();
    await alice.login(`${origin}/`, 'alice');
    const headers = {
      cookie: `_portcullis=${alice.cookie('_portcullis')}`,
      accept: 'application/json',
      'X-Original-URL': `${origin}/ok`,
      'X-Original-Method': 'GET',
    };
    for (const path of ['/.portcullis/auth', '/.portcullis/forward-auth']) {
      const res = await requestFrom(`${stack.url}${path}`, headers, { localAddress: '127.0.0.2' });
      t.equal(res.status, 403, `${path} from 127.0.0.2`);
      t.equal(JSON.parse(res.body).error, 'GW_UNTRUSTED_PROXY');
      t.notOk(res.headers['x-portcullis-user'], 'no identity');
      const trusted = await requestFrom(`${stack.url}${path}`, headers);
      t.equal(trusted.status, 200, `control: ${path} from 127.0.0.1 (trusted)`);
      t.equal(trusted.headers['x-portcullis-user'], 'alice');
    }
  });
}
