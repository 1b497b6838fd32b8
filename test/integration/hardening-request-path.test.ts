import { connect } from 'node:net';
import t from 'tap';
import { startStack, type Stack } from '../support/stack.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

/**
 * The hardening issue's request-path findings, through a real gateway, a real IdP and real
 * upstreams: one path judged and forwarded, path rules under strip_prefix, client headers under
 * other spellings, the Host sent with preserve_host behind a trusted balancer, and a hostile
 * upstream that tries to plant the gateway's cookies.
 */
let stack: Stack;
let hostile: Upstream;
let aliceCookie: string;
let adminCookie: string;

const HOSTILE_COOKIES = [
  '_portcullis =planted',
  ' _portcullis=planted',
  '_portcullis\t=planted',
  '_portcullis=planted; Path=/; HttpOnly',
  '_portcullis_tx_0123456789abcdef=planted',
  '=_portcullis=planted',
  'app_pref=dark; Path=/',
];

t.before(async () => {
  hostile = await startUpstream({
    upgradeHeaders: ['Set-Cookie: _portcullis =planted-by-101', 'Set-Cookie: ws_ok=1'],
    handle: (req, res) => {
      if (req.url?.startsWith('/clear')) {
        res.setHeader('Clear-Site-Data', ['"cache", "cookies"', '"*"', '"storage"']);
        res.end('ok');
        return true;
      }
      if (!req.url?.startsWith('/cookies')) return false;
      res.setHeader('Set-Cookie', HOSTILE_COOKIES);
      res.end('ok');
      return true;
    },
  });
  stack = await startStack({
    routes: ({ url, upstream }) => [
      { from: url, to: upstream.url, policy: 'docs-guarded' },
      { from: `${url}/eng`, to: upstream.url, policy: 'app-admin', strip_prefix: true },
      { from: `${url}/Tools`, to: upstream.url, policy: 'everyone' },
      { from: `${url}/hostile`, to: hostile.url, policy: 'everyone', strip_prefix: true, websockets: true },
    ],
  });
  const alice = stack.browser();
  await alice.login(`${stack.url}/`, 'alice');
  aliceCookie = `_portcullis=${alice.cookie('_portcullis')}`;
  const admin = stack.browser();
  await admin.login(`${stack.url}/`, 'admin');
  adminCookie = `_portcullis=${admin.cookie('_portcullis')}`;
});
t.teardown(async () => {
  await stack.close();
  await hostile.close();
});

interface RawResponse {
  status: number;
  head: string;
  headers: Array<[string, string]>;
  body: string;
}

/** Sends bytes exactly as given (no client-side normalization of the target or header names). */
async function raw(url: string, lines: string[]): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.write(`${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`);
  });
  const split = text.indexOf('\r\n\r\n');
  const head = text.slice(0, split);
  const [statusLine, ...headerLines] = head.split('\r\n');
  const headers = headerLines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
  return { status: Number(statusLine!.split(' ')[1]), head, headers, body: text.slice(split + 4) };
}

function get(target: string, cookie = aliceCookie, extra: string[] = []): Promise<RawResponse> {
  const host = new URL(stack.url).host;
  return raw(stack.url, [`GET ${target} HTTP/1.1`, `Host: ${host}`, 'Accept: application/json', `Cookie: ${cookie}`, ...extra]);
}

/** The upstream's echo of what it received (the JSON body), after a request that got through. */
function echoed(response: RawResponse): { url: string; headers: Record<string, string> } {
  const body = response.body.startsWith('{') ? response.body : response.body.slice(response.body.indexOf('{'), response.body.lastIndexOf('}') + 1);
  return JSON.parse(body);
}

t.test('1. one path judged and forwarded: fragments, middle path parameters, letter case', async (t) => {
  const refused = ['/docs/secret#x', '/docs/public#/../secret', '/docs;x/secret/k', '/;x/docs/secret', '/docs/SECRET/k', '/DOCS/secret', '/Admin', '/docs/%53ECRET', '/docs/%C5%BFecret', '/docs/secret%0A'];
  for (const target of refused) {
    const before = stack.upstream.requests.length;
    const res = await get(target);
    t.equal(res.status, 400, `${target} is refused`);
    t.equal(stack.upstream.requests.length, before, `${target} never reaches the upstream`);
  }
  for (const target of ['/docs/secret', '/docs/secret/k', '/docs/secret;jsessionid=1', '/docs/%73ecret', '/docs//secret', '/docs/x/../secret', '/admin?x=1']) {
    t.equal((await get(target)).status, 403, `${target} meets the deny rule`);
  }
  const ok = await get('/docs/public/Page?q=%2Fadmin#');
  t.equal(ok.status, 400, 'an empty fragment is a fragment too');
  const allowed = await get('/docs/./public/Page?q=/admin');
  t.equal(allowed.status, 200);
  t.equal(echoed(allowed).url, '/docs/public/Page?q=/admin', 'the upstream gets the normalized path; the query is not a path');
  t.equal((await get('/tools/x')).status, 400, 'a route prefix spelt in another case is refused, not sent to the catch-all route');
  t.equal((await get('/Tools/x')).status, 200);
});

t.test('2. strip_prefix: path rules judge the path the upstream receives', async (t) => {
  const denied = await get('/eng/admin/users');
  t.equal(denied.status, 403, 'the app-admin deny on /admin fires for /eng/admin (the upstream serves /admin)');
  const admin = await get('/eng/admin/users', adminCookie);
  t.equal(admin.status, 200);
  t.equal(echoed(admin).url, '/admin/users');
  t.equal((await get('/eng/ADMIN/users')).status, 400, 'another spelling of the denied path is refused');
  t.equal((await get('/ENG/admin')).status, 400);
  t.equal(echoed(await get('/eng/dashboard')).url, '/dashboard');
});

t.test('3. client headers never speak for the gateway, under any spelling', async (t) => {
  const res = await get('/docs/public', aliceCookie, [
    'X_Portcullis_Groups: admins',
    'x_portcullis_user: mallory',
    'X.Portcullis.Email: mallory@example.com',
    'X-Portcullis_Jwt-Assertion: forged',
    'x_forwarded_for: 6.6.6.6',
    'X_Forwarded_Host: evil.example',
    'x-forwarded_proto: https',
    'X_Real_IP: 6.6.6.6',
    'X_Request_Id: chosen',
    'Transfer_Encoding: chunked',
    'X-Custom_Header: kept',
    'X-Original-URL: /docs/secret',
    'X_Rewrite_URL: /docs/secret',
    'X-HTTP-Method-Override: DELETE',
    'X-Method-Override: DELETE',
  ]);
  t.equal(res.status, 200);
  const names = Object.keys(echoed(res).headers);
  const gatewaySet = /^(x-portcullis-|x-forwarded-|x-real-ip$|x-request-id$|transfer-encoding$)/;
  for (const name of names) {
    if (name === name.replace(/[^a-z0-9]/g, '-')) continue;
    t.notMatch(name.replace(/[^a-z0-9]/g, '-'), gatewaySet, `${name}: no other spelling of a gateway header reaches the upstream`);
  }
  const headers = echoed(res).headers;
  t.equal(headers['x-portcullis-user'], 'alice');
  t.notMatch(headers['x-portcullis-groups'] ?? '', /admins/);
  t.notMatch(headers['x-forwarded-for'], /6\.6\.6\.6/);
  t.equal(headers['x-custom_header'], 'kept', 'unrelated headers with underscores are kept');
  for (const name of ['x-original-url', 'x_rewrite_url', 'x-http-method-override', 'x-method-override']) {
    t.notOk(name in headers, `${name}: a URL or method override never reaches the upstream`);
  }
});

t.test('5. an upstream cannot plant or clear the gateway cookies, in any spelling browsers accept', async (t) => {
  const res = await get('/hostile/cookies');
  t.equal(res.status, 200);
  const setCookies = res.headers.filter(([name]) => name === 'set-cookie').map(([, v]) => v);
  t.same(setCookies, ['app_pref=dark; Path=/'], 'only the app’s own cookie reaches the browser');

  const host = new URL(stack.url).host;
  const upgrade = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(stack.url).port), '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(data);
      }
    });
    socket.on('error', reject);
    socket.write(
      `GET /hostile/ws HTTP/1.1\r\nHost: ${host}\r\nCookie: ${aliceCookie}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
  });
  t.match(upgrade, /^HTTP\/1\.1 101/);
  t.notMatch(upgrade, /_portcullis/, 'the 101 does not carry the planted cookie');
  t.match(upgrade, /ws_ok=1/, 'the app’s own cookie on the 101 passes');

  const cleared = await get('/hostile/clear');
  t.same(cleared.headers.filter(([n]) => n === 'clear-site-data').map(([, v]) => v), ['"cache", "storage"'], 'Clear-Site-Data cannot clear the gateway cookies');
});

t.test('two session cookies (one planted on a longer path): refused, and every copy on the path deleted', async (t) => {
  const alice = aliceCookie.split('=')[1];
  const admin = adminCookie.split('=')[1];
  const res = await get('/docs/public/x', `_portcullis=${admin}; other=1; _portcullis=${alice}`);
  t.equal(res.status, 400);
  const deletions = res.headers.filter(([n]) => n === 'set-cookie').map(([, v]) => v);
  for (const path of ['/', '/docs', '/docs/', '/docs/public', '/docs/public/x']) {
    t.ok(deletions.some((d) => d.startsWith('_portcullis=;') && d.includes(`Path=${path};`) && d.includes('Max-Age=0')), `deleted at Path=${path}`);
  }
  t.equal(stack.upstream.last()?.url.startsWith('/docs/public/x') ?? false, false, 'nothing reached the upstream');
});

t.test('WebSocket upgrades to the gateway’s own endpoints are refused, never passed to a route', async (t) => {
  const host = new URL(stack.url).host;
  const res = await raw(stack.url, [
    'GET /.portcullis/userinfo HTTP/1.1',
    `Host: ${host}`,
    `Cookie: ${aliceCookie}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  ]);
  t.equal(res.status, 400);
});

t.test('4. preserve_host behind a trusted balancer sends the host the route matched on', async (t) => {
  const upstream = await startUpstream();
  const trusted = await startStack({
    config: () => ({ server: { trust_forwarded_headers: true } }),
    routes: ({ url }) => [
      { from: url, to: upstream.url, policy: 'everyone' },
      { from: 'http://app.example.test', to: upstream.url, public: true, preserve_host: true },
    ],
  });
  t.teardown(async () => {
    await trusted.close();
    await upstream.close();
  });
  const port = new URL(trusted.url).port;
  const res = await raw(trusted.url, [
    'GET /page HTTP/1.1',
    `Host: other-site.test:${port}`,
    'X-Forwarded-Host: app.example.test',
    'X-Forwarded-Proto: http',
  ]);
  t.equal(res.status, 200);
  t.equal(upstream.last()?.headers.host, 'app.example.test', 'not the raw client Host of another site');
  t.equal(upstream.last()?.headers['x-forwarded-host'], 'app.example.test');
});
