import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import t from 'tap';
import { freePort } from '../support/ports.js';
import { startStack, type Stack } from '../support/stack.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

/** Routing, forwarding, header hygiene, policies and bad input on the proxy port. */
let stack: Stack;
let other: Upstream;
let deadPort: number;
let cookie: string;
let adminCookie: string;

t.before(async () => {
  other = await startUpstream();
  deadPort = await freePort();
  stack = await startStack({
    routes: ({ url, upstream }) => [
      { from: url, to: upstream.url, policy: 'everyone', websockets: true },
      { from: `${url}/api`, to: `${other.url}/v1`, policy: 'everyone', strip_prefix: true },
      { from: `${url}/api/public`, to: other.url, public: true },
      { from: `${url}/host`, to: other.url, policy: 'everyone', preserve_host: true },
      { from: `${url}/slow`, to: other.url, policy: 'everyone', timeout: '300ms' },
      { from: `${url}/down`, to: `http://127.0.0.1:${deadPort}`, policy: 'everyone' },
      { from: `${url}/staff`, to: other.url, policy: 'staff-no-admin' },
    ],
  });
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'alice');
  cookie = `_portcullis=${browser.cookie('_portcullis')}`;
  const admin = stack.browser();
  await admin.login(`${stack.url}/`, 'admin');
  adminCookie = `_portcullis=${admin.cookie('_portcullis')}`;
});
t.teardown(async () => {
  await stack.close();
  await other.close();
});

/** node:http rather than fetch, so Host, Connection and raw paths go out exactly as given. */
async function get(path: string, headers: Record<string, string> = {}) {
  const { status, headers: responseHeaders, text } = await new Promise<{ status: number; headers: Headers; text: string }>((resolve, reject) => {
    const req = httpRequest(`${stack.url}${path}`, { headers: { accept: 'application/json', cookie, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode ?? 0, headers: h, text: body });
      });
    });
    req.on('error', reject);
    req.end();
  });
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { res: { status, headers: responseHeaders }, text, json };
}

t.test('unknown host or path is a 404 page (HTML for browsers, JSON for APIs)', async (t) => {
  const port = new URL(stack.url).port;
  const wrongHost = await get('/', { host: `unknown.example:${port}` });
  t.equal(wrongHost.res.status, 404);
  t.equal(wrongHost.json.error, 'GW_NOT_FOUND');
  const html = await get('/', { host: `unknown.example:${port}`, accept: 'text/html' });
  t.equal(html.res.status, 404);
  t.match(html.res.headers.get('content-type'), /text\/html/);
  t.match(html.text, /Request ID/);
  t.equal(html.res.headers.get('x-content-type-options'), 'nosniff');
  t.match(html.res.headers.get('content-security-policy'), /default-src 'none'/);
  t.ok(html.res.headers.get('referrer-policy'));
});

t.test('longest prefix wins at whole segments; strip_prefix; preserve_host', async (t) => {
  const api = await get('/api/items?x=1');
  t.equal(api.json.url, '/v1/items?x=1', 'strip_prefix removes /api and the target path is prepended');
  const apis = await get('/apis');
  t.equal(apis.json.url, '/apis', '/apis is not under /api');
  t.equal(stack.upstream.last()?.url, '/apis');
  const pub = await fetch(`${stack.url}/api/public/x`, { headers: { accept: 'application/json' } });
  t.equal(pub.status, 200, 'the longer public prefix wins without a session');
  const host = await get('/host/x');
  t.equal(host.json.headers.host, new URL(stack.url).host, 'preserve_host keeps the original Host');
  const noPreserve = await get('/api/x');
  t.equal(noPreserve.json.headers.host, new URL(other.url).host);
});

t.test('header hygiene: the gateway cookie and spoofed identity never reach the upstream', async (t) => {
  const { json } = await get('/hygiene', {
    cookie: `theme=dark; ${cookie}; lang=en`,
    'x-portcullis-user': 'mallory',
    'X-Portcullis-Groups': 'admins',
    'x-portcullis-jwt-assertion': 'forged',
    connection: 'keep-alive, x-drop-me',
    'x-drop-me': 'secret',
    'x-forwarded-for': '6.6.6.6',
  });
  t.equal(json.headers.cookie, 'theme=dark; lang=en', 'other cookies stay, in order');
  t.equal(json.headers['x-portcullis-user'], 'alice');
  t.equal(json.headers['x-portcullis-groups'], 'staff');
  t.not(json.headers['x-portcullis-jwt-assertion'], 'forged', 'a client-sent assertion is replaced by the gateway\'s own');
  t.notOk(json.headers['x-drop-me'], 'headers named in Connection are hop-by-hop');
  t.equal(json.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted X-Forwarded-For is replaced');
  t.equal(json.headers['x-forwarded-proto'], 'http');
  t.equal(json.headers['x-forwarded-host'], new URL(stack.url).host);
  const planted = await get(`/plant?__set_cookie=${encodeURIComponent('_portcullis=forged; Path=/')}`);
  t.equal(planted.res.status, 200);
  t.notOk(planted.res.headers.get('set-cookie'), 'an upstream cannot plant or clear the gateway cookie');
  const theirs = await get(`/plant?__set_cookie=${encodeURIComponent('app=1; Path=/')}`);
  t.equal(theirs.res.headers.get('set-cookie'), 'app=1; Path=/', "the upstream's own cookies pass");
  const only = await get('/hygiene2');
  t.notOk('cookie' in only.json.headers, 'a Cookie header with only the gateway cookie is dropped');
});

t.test('policies: deny wins, no allow means 403, paths are normalized first', async (t) => {
  t.equal((await get('/staff/ok')).res.status, 200);
  for (const path of ['/staff/admin', '/staff/admin/x', '/staff/a/../admin', '/staff/%61dmin', '/staff//admin']) {
    const res = await get(path);
    t.equal(res.res.status, 403, `${path} denied for a non-admin`);
    t.equal(res.json.error, 'GW_FORBIDDEN');
  }
  const admin = await get('/staff/admin', { cookie: adminCookie });
  t.equal(admin.res.status, 200, 'admins pass the deny rule');
});

t.test('upstream timeout is 504, upstream down is 502', async (t) => {
  const slow = await get('/slow/x?__delay=2000');
  t.equal(slow.res.status, 504);
  t.equal(slow.json.error, 'GW_UPSTREAM_TIMEOUT');
  const down = await get('/down/x');
  t.equal(down.res.status, 502);
  t.equal(down.json.error, 'GW_UPSTREAM_UNREACHABLE');
  t.notMatch(down.text, /ECONNREFUSED|127\.0\.0\.1:\d+/, 'no internals in the error');
});

t.test('request and response bodies stream through', async (t) => {
  const big = 'x'.repeat(3 * 1024 * 1024);
  const res = await fetch(`${stack.url}/upload`, { method: 'POST', body: big, headers: { cookie, 'content-type': 'text/plain' } });
  t.equal(res.status, 200);
  const json = (await res.json()) as { bodyLength: number; method: string };
  t.equal(json.method, 'POST');
  t.equal(json.bodyLength, big.length);
});

t.test('bad input: malformed percent-encoding 400, oversized headers 431, bad Host 400', async (t) => {
  const bad = await get('/a%zz');
  t.equal(bad.res.status, 400);
  const big = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${stack.url}/`, { headers: { 'x-big': 'y'.repeat(64 * 1024) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(big, 431);
  const raw = await new Promise<string>((resolve) => {
    const socket = connect(Number(new URL(stack.url).port), '127.0.0.1', () => {
      socket.write('GET / HTTP/1.1\r\nHost: bad host!\r\nConnection: close\r\n\r\n');
    });
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
  t.match(raw, /^HTTP\/1\.1 400/);
});

t.test('WebSocket upgrades pass through with the same authentication', async (t) => {
  const port = Number(new URL(stack.url).port);
  const handshake = (withCookie: boolean) =>
    new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          'GET /ws HTTP/1.1\r\nHost: 127.0.0.1:' + port + '\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
            (withCookie ? `Cookie: ${cookie}\r\n` : '') + '\r\n',
        );
      });
      let data = '';
      socket.on('data', (d) => {
        data += d.toString();
        if (data.includes('\r\n\r\n') && data.startsWith('HTTP/1.1 101') && !data.includes('ping')) socket.write('ping');
        if (data.includes('ping') || !data.startsWith('HTTP/1.1 101')) socket.end();
      });
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
  const anonymous = await handshake(false);
  t.match(anonymous, /^HTTP\/1\.1 401/, 'no session, no upgrade');
  const ok = await handshake(true);
  t.match(ok, /^HTTP\/1\.1 101/);
  t.match(ok, /ping$/, 'bytes echo back through the gateway');
  const upgraded = stack.upstream.requests.filter((r) => r.upgrade).pop();
  t.equal(upgraded?.headers['x-portcullis-user'], 'alice');
  t.notMatch(String(upgraded?.headers.cookie ?? ''), /_portcullis=/);
});

t.test('metrics count requests by route and code on the admin port', async (t) => {
  const text = await (await fetch(`${stack.adminUrl}/metrics`)).text();
  t.match(text, /portcullis_http_requests_total\{route="[^"]+",method="GET",code="200"\} \d+/);
  t.match(text, /portcullis_http_request_duration_seconds_bucket/);
  t.match(text, /portcullis_upstream_errors_total\{route="[^"]*\/down",kind="[a-z_]+"\} 1/);
  t.match(text, /portcullis_logins_total\{result="success"\} 2/);
  t.match(text, /portcullis_sessions_active 2/);
  t.match(text, /process_cpu_user_seconds_total/);
  t.notMatch(text, /_portcullis=|eyJ/, 'no cookie values or tokens in metrics');
});
