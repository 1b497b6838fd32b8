import { connect } from 'node:net';
import t from 'tap';
import { startDemoIdp } from '../../src/demo/idp.js';
import { startWhoami } from '../../src/demo/whoami.js';
import { CookieJar } from '../support/cookie-jar.js';
import { startUpstream } from '../support/upstream.js';

/** The demo's IdP and whoami app, and the test upstream and cookie jar the other tests rely on. */

t.test('demo IdP: discovery advertises what the gateway needs', async (t) => {
  const idp = await startDemoIdp({
    clients: [{ client_id: 'c', client_secret: 's', redirect_uris: ['http://127.0.0.1:1/.portcullis/callback'] }],
  });
  t.teardown(() => idp.close());
  t.match(idp.issuer, /^http:\/\/localhost:\d+$/);
  const meta = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  t.equal(meta.issuer, idp.issuer);
  t.equal(meta.backchannel_logout_supported, true);
  t.equal(meta.backchannel_logout_session_supported, true);
  t.ok(meta.end_session_endpoint);
  t.ok(meta.revocation_endpoint);
  t.ok(meta.userinfo_endpoint);
  t.equal(meta.authorization_response_iss_parameter_supported, true);
  t.ok((meta.code_challenge_methods_supported as string[]).includes('S256'));
  t.ok((meta.claims_supported as string[]).includes('groups'));
});

t.test('two demo IdPs in one process do not share state', async (t) => {
  const client = { client_id: 'c', client_secret: 's', redirect_uris: ['http://127.0.0.1:1/cb'] };
  const a = await startDemoIdp({ clients: [client] });
  const b = await startDemoIdp({ clients: [client] });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  t.not(a.issuer, b.issuer);
  const jwksA = await (await fetch(`${a.issuer}/jwks`)).json();
  const jwksB = await (await fetch(`${b.issuer}/jwks`)).json();
  t.notSame(jwksA, jwksB, 'each has its own signing key');
});

t.test('whoami shows the identity headers (escaped), JSON when asked', async (t) => {
  const whoami = await startWhoami();
  t.teardown(() => whoami.close());
  const headers = {
    'x-portcullis-user': 'alice',
    'x-portcullis-email': 'alice@example.com',
    'x-portcullis-groups': 'staff,<b>admins</b>',
  };
  const html = await fetch(`${whoami.url}/some/path?q=<x>`, { headers: { ...headers, accept: 'text/html' } });
  t.equal(html.status, 200);
  const body = await html.text();
  t.match(body, /Signed in as <b id="user">alice<\/b>/);
  t.match(body, /alice@example\.com/);
  t.match(body, /&#60;b&#62;admins/);
  t.notMatch(body, /<b>admins<\/b>/, 'header values are escaped');
  t.match(body, /<form method="post" action="\/\.portcullis\/logout">/);
  t.match(body, /\/some\/path\?q=/);

  const json = (await (await fetch(`${whoami.url}/p`, { headers: { ...headers, accept: 'application/json' } })).json()) as Record<string, unknown>;
  t.match(json, { user: 'alice', email: 'alice@example.com', groups: ['staff', '<b>admins</b>'], path: '/p', method: 'GET' });

  const anonymous = await (await fetch(whoami.url)).text();
  t.match(anonymous, /No identity headers/);
});

t.test('test upstream: echoes requests as JSON and echoes WebSocket bytes after a 101', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const res = await fetch(`${upstream.url}/a?__status=201`, { method: 'POST', body: 'hello', headers: { 'x-test': '1' } });
  t.equal(res.status, 201);
  t.match(await res.json(), { method: 'POST', url: '/a?__status=201', body: 'hello', headers: { 'x-test': '1' } });
  t.equal(upstream.last()?.body, 'hello');

  const socket = connect(upstream.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  const deadline = Date.now() + 2000;
  while (!Buffer.concat(received).includes('\r\n\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const head = Buffer.concat(received).toString();
  t.match(head, /^HTTP\/1\.1 101 /);
  t.match(head, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/, 'RFC 6455 §1.3 example accept value');
  received.length = 0;
  socket.write('ping-bytes');
  while (!Buffer.concat(received).includes('ping-bytes') && Date.now() < deadline + 2000) await new Promise((r) => setTimeout(r, 10));
  t.equal(Buffer.concat(received).toString(), 'ping-bytes');
  t.equal(upstream.last()?.upgrade, true);
});

t.test('cookie jar: host-only vs Domain, Path, Max-Age deletion, SameSite across sites', async (t) => {
  let now = 1_000_000;
  const jar = new CookieJar(() => now);
  const app = new URL('http://app.example.com/x/y');
  jar.set(app, 'host=1; Path=/');
  jar.set(app, 'dom=2; Domain=.example.com; Path=/');
  jar.set(app, 'deep=3; Path=/x');
  jar.set(app, 'strict=4; Path=/; SameSite=Strict');
  jar.set(app, 'short=5; Path=/; Max-Age=10');
  t.notOk(jar.set(app, 'evil=6; Domain=other.com'), 'a foreign Domain is refused');
  t.notOk(jar.set(app, 'sec=7; Secure'), 'Secure over plain http (not localhost) is refused');

  const names = (url: string, crossSite = false, method = 'GET') =>
    jar.matching({ url: new URL(url), method, crossSite }).map((c) => c.name).sort();
  t.same(names('http://app.example.com/x/z'), ['deep', 'dom', 'host', 'short', 'strict']);
  t.same(names('http://other.example.com/'), ['dom']);
  t.same(names('http://app.example.com/xyz'), ['dom', 'host', 'short', 'strict'], 'Path matches whole segments');
  t.same(names('http://app.example.com/', true), ['dom', 'host', 'short'], 'Strict withheld cross-site');
  t.same(names('http://app.example.com/', true, 'POST'), [], 'Lax withheld on a cross-site POST');
  now += 11_000;
  t.notOk(names('http://app.example.com/').includes('short'), 'expired by Max-Age');
  jar.set(app, 'host=; Path=/; Max-Age=0');
  t.notOk(names('http://app.example.com/').includes('host'), 'deleted with Max-Age=0');
  t.ok(jar.set(new URL('http://localhost:1/'), 'lsec=1; Secure'), 'localhost counts as secure');
});
