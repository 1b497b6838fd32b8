import type { IncomingMessage } from 'node:http';
import t from 'tap';
import {
  buildUpstreamHeaders,
  filterResponseHeaders,
  identityValues,
  safeHeaderValue,
  type UpstreamHeaderOptions,
} from '../../../src/proxy/headers.js';

function fakeReq(headers: Record<string, string | string[]>, remoteAddress = '10.0.0.9'): IncomingMessage {
  return { headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

const base: UpstreamHeaderOptions = {
  cookieName: '_portcullis',
  clientIp: '10.0.0.9',
  proto: 'https',
  host: 'app.example.com',
  preserveHost: false,
  upstreamHost: 'backend:3000',
  trustForwarded: false,
  requestId: 'req-1',
};

function build(headers: Record<string, string | string[]>, opts: Partial<UpstreamHeaderOptions> = {}, ip?: string) {
  return buildUpstreamHeaders(fakeReq(headers, ip), { ...base, ...opts });
}

t.test('hop-by-hop headers are dropped, end-to-end ones kept', async (t) => {
  const out = build({
    host: 'app.example.com',
    connection: 'keep-alive, X-Custom-Hop',
    'keep-alive': 'timeout=5',
    'proxy-connection': 'keep-alive',
    te: 'trailers',
    trailer: 'x-checksum',
    'transfer-encoding': 'chunked',
    upgrade: 'h2c',
    'proxy-authorization': 'Basic abc',
    'proxy-authenticate': 'Basic',
    'x-custom-hop': 'only for the next hop',
    expect: '100-continue',
    accept: 'text/html',
    authorization: 'Bearer app-token',
    'content-type': 'application/json',
    'content-length': '12',
  });
  for (const name of [
    'connection',
    'keep-alive',
    'proxy-connection',
    'te',
    'trailer',
    'transfer-encoding',
    'upgrade',
    'proxy-authorization',
    'proxy-authenticate',
    'x-custom-hop',
    'expect',
  ]) {
    t.notOk(name in out, `${name} dropped`);
  }
  t.equal(out.accept, 'text/html');
  t.equal(out.authorization, 'Bearer app-token', 'the app’s own Authorization passes');
  t.equal(out['content-type'], 'application/json');
  t.equal(out['content-length'], '12');
});

t.test('an upgrade request keeps Upgrade and Connection: upgrade only', async (t) => {
  const out = build({
    connection: 'keep-alive, Upgrade, X-Hop',
    upgrade: 'websocket',
    'x-hop': 'drop me',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
  });
  t.equal(out.upgrade, 'websocket');
  t.equal(out.connection, 'upgrade');
  t.notOk('x-hop' in out);
  t.notOk('keep-alive' in out);
  t.equal(out['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
  t.equal(out['sec-websocket-version'], '13');

  const noConnection = build({ upgrade: 'websocket' });
  t.notOk('upgrade' in noConnection, 'Upgrade without Connection: upgrade is not an upgrade');
});

t.test('client-sent X-Portcullis-* headers are dropped in any case', async (t) => {
  const out = build({
    'x-portcullis-user': 'admin',
    'x-portcullis-email': 'admin@example.com',
    'x-portcullis-groups': 'admins',
    'x-portcullis-jwt-assertion': 'forged',
    'x-portcullis-anything-else': '1',
  });
  t.same(
    Object.keys(out).filter((k) => k.toLowerCase().startsWith('x-portcullis-')),
    [],
    'nothing X-Portcullis-* without an identity',
  );
  // node lower-cases names, but a raw object may not: any case is dropped
  const mixed = buildUpstreamHeaders(
    fakeReq({ 'X-Portcullis-User': 'admin', 'X-PORTCULLIS-GROUPS': 'admins' } as Record<string, string>),
    base,
  );
  t.same(Object.keys(mixed).filter((k) => k.toLowerCase().startsWith('x-portcullis-')), []);
});

t.test('identity headers replace spoofed ones', async (t) => {
  const out = build(
    { 'x-portcullis-user': 'admin', 'x-portcullis-groups': 'admins' },
    { identity: identityValues({ sub: 'alice', email: 'alice@example.com', groups: ['eng', 'ops'] }), assertion: 'a.b.c' },
  );
  t.equal(out['x-portcullis-user'], 'alice');
  t.equal(out['x-portcullis-email'], 'alice@example.com');
  t.equal(out['x-portcullis-groups'], 'eng,ops');
  t.equal(out['x-portcullis-jwt-assertion'], 'a.b.c');

  const noEmail = build({ 'x-portcullis-email': 'spoof@example.com' }, { identity: identityValues({ sub: 'bob', groups: [] }) });
  t.notOk('x-portcullis-email' in noEmail, 'no email claim: no email header, and the spoofed one is gone');
  t.equal(noEmail['x-portcullis-groups'], '', 'no groups: an explicit empty list');
  t.notOk('x-portcullis-jwt-assertion' in noEmail);
});

t.test('identity values can never inject a header', async (t) => {
  const out = build(
    {},
    {
      identity: identityValues({
        sub: 'alice\r\nX-Portcullis-Groups: admins',
        email: 'a@example.com\nSet-Cookie: x=1',
        groups: ['eng\r\nX-Evil: 1', 'a,b', 'nul\u0000byte'],
      }),
    },
  );
  const user = out['x-portcullis-user'] as string;
  t.notMatch(user, /[\r\n]/);
  t.equal(user, 'alice%0D%0AX-Portcullis-Groups: admins');
  t.equal(out['x-portcullis-email'], 'a@example.com%0ASet-Cookie: x=1');
  t.equal(out['x-portcullis-groups'], 'eng%0D%0AX-Evil: 1,a%2Cb,nul%00byte', 'a comma inside a group cannot split it');
  for (const value of Object.values(out)) {
    for (const one of Array.isArray(value) ? value : [value]) t.notMatch(one, /[\r\n\u0000]/);
  }
});

t.test('safeHeaderValue: printable ASCII as is, everything else percent-encoded, reversibly', async (t) => {
  t.equal(safeHeaderValue('plain-user@example.com'), 'plain-user@example.com');
  t.equal(safeHeaderValue('Ada Lovelace'), 'Ada Lovelace', 'inner spaces stay');
  t.equal(safeHeaderValue('Zoë'), 'Zo%C3%AB', 'non-ASCII is UTF-8 percent-encoded');
  t.equal(safeHeaderValue('张三'), '%E5%BC%A0%E4%B8%89');
  t.equal(safeHeaderValue('100%'), '100%25', 'a percent sign is encoded, so an encoded name cannot pass for another');
  t.equal(safeHeaderValue('admin '), 'admin%20', 'a trailing space is kept, encoded: "admin " is not "admin"');
  t.equal(safeHeaderValue('a\tb'), 'a%09b');
  t.equal(safeHeaderValue('\ud800x'), '%EF%BF%BDx', 'a lone surrogate becomes U+FFFD');
  const distinct = ['admin', 'admin ', ' admin', '张', '%E5%BC%A0', 'a%2Cb', 'a,b', 'x\r\ny', 'emoji 😀', 'Zoë', ''];
  const encoded = distinct.map(safeHeaderValue);
  t.equal(new Set(encoded).size, distinct.length, 'distinct values stay distinct');
  for (const [i, value] of encoded.entries()) {
    t.match(value, /^[\x20-\x7e]*$/, `${JSON.stringify(distinct[i])} is printable ASCII`);
    t.equal(decodeURIComponent(value), distinct[i], `${JSON.stringify(distinct[i])} decodes back`);
  }
});

t.test('only the gateway cookie is removed from Cookie', async (t) => {
  t.equal(build({ cookie: 'a=1; _portcullis=secret; b=2' }).cookie, 'a=1; b=2');
  t.equal(build({ cookie: '_portcullis=secret;theme=dark' }).cookie, 'theme=dark');
  t.notOk('cookie' in build({ cookie: '_portcullis=secret' }), 'Cookie dropped when empty');
  t.equal(build({ cookie: 'a=1' }).cookie, 'a=1');
  t.equal(
    build({ cookie: '_portcullisx=keep; x_portcullis=keep; _portcullis=drop' }).cookie,
    '_portcullisx=keep; x_portcullis=keep',
    'similar names are not the gateway cookie',
  );
  t.equal(
    build({ cookie: 'a=1; _portcullis_tx_abc=sealed; _portcullis_other=x; b=2' }).cookie,
    'a=1; b=2',
    'the whole namespace <name>_… (sign-in transactions) stays with the gateway',
  );
  t.equal(build({ cookie: 'a=b, _portcullis=secret; c=d' }).cookie, 'c=d', 'a comma-joined pair carrying the gateway cookie goes');
  t.equal(build({ cookie: 'list=1,2,3; _portcullis=x' }).cookie, 'list=1,2,3', 'commas inside other values are kept');
  t.equal(
    build({ cookie: ['a=1; _portcullis=one', '_portcullis=two; b=2'] }).cookie,
    'a=1; b=2',
    'several Cookie headers: every copy of the gateway cookie goes',
  );
  t.notOk('cookie' in build({ cookie: ['_portcullis=one', '_portcullis=two'] }));
  t.equal(build({ cookie: 'sid=1; _portcullis=x' }, { cookieName: 'gw' }).cookie, 'sid=1; _portcullis=x', 'configured name');
});

t.test('X-Forwarded-For: untrusted clients cannot seed the chain', async (t) => {
  const out = build({
    'x-forwarded-for': '1.2.3.4',
    'x-forwarded-proto': 'http',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-port': '1',
    forwarded: 'for=1.2.3.4',
    'x-real-ip': '1.2.3.4',
  });
  t.equal(out['x-forwarded-for'], '10.0.0.9');
  t.equal(out['x-forwarded-proto'], 'https');
  t.equal(out['x-forwarded-host'], 'app.example.com');
  t.notOk('x-forwarded-port' in out);
  t.notOk('forwarded' in out);
  t.notOk('x-real-ip' in out);
});

t.test('X-Forwarded-For: a trusted chain is extended with the peer', async (t) => {
  // behind a load balancer at 10.1.1.1 the gateway's clientIp is the first hop
  const out = build(
    { 'x-forwarded-for': '203.0.113.7, 198.51.100.2', 'x-forwarded-port': '443' },
    { trustForwarded: true, clientIp: '203.0.113.7' },
    '::ffff:10.1.1.1',
  );
  t.equal(out['x-forwarded-for'], '203.0.113.7, 198.51.100.2, 10.1.1.1');
  t.equal(out['x-forwarded-port'], '443', 'other forwarded headers from a trusted balancer stay');
  const noChain = build({}, { trustForwarded: true, clientIp: '::ffff:192.0.2.1' }, '::ffff:192.0.2.1');
  t.equal(noChain['x-forwarded-for'], '192.0.2.1', 'no chain: just the client');
  const ipv6 = build({}, { clientIp: '2001:db8::1' }, '2001:db8::1');
  t.equal(ipv6['x-forwarded-for'], '2001:db8::1');
});

t.test('Host, X-Request-Id and the forwarded scheme/host', async (t) => {
  const out = build({ host: 'app.example.com:8443', 'x-request-id': 'client-chosen' }, { proto: 'http' });
  t.equal(out.host, 'backend:3000', 'the upstream host by default');
  t.equal(out['x-request-id'], 'req-1', 'the gateway’s request id wins');
  t.equal(out['x-forwarded-proto'], 'http');
  const preserved = build({ host: 'app.example.com:8443' }, { preserveHost: true, host: 'app.example.com:8443' });
  t.equal(preserved.host, 'app.example.com:8443', 'preserve_host sends the host the route matched on');
  const forwarded = build(
    { host: 'internal-lb:8080', 'x-forwarded-host': 'app.example.com' },
    { preserveHost: true, trustForwarded: true, host: 'app.example.com' },
  );
  t.equal(forwarded.host, 'app.example.com', 'behind a trusted balancer: the forwarded host the route matched, not the raw Host');
});

t.test('a header named __proto__ cannot touch the prototype', async (t) => {
  const headers = JSON.parse('{"__proto__": "x", "accept": "*/*"}') as Record<string, string>;
  const out = build(headers);
  t.equal(Object.getPrototypeOf(out), Object.prototype);
  t.equal(out.accept, '*/*');
});

t.test('filterResponseHeaders drops hop-by-hop and Connection-named headers', async (t) => {
  const out = filterResponseHeaders({
    connection: 'keep-alive, x-upstream-hop',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    trailer: 'x-sum',
    upgrade: 'h2c',
    'proxy-authenticate': 'Basic',
    'x-upstream-hop': '1',
    'content-type': 'text/plain',
    'set-cookie': ['a=1', 'b=2'],
    'content-length': undefined,
    etag: '"v1"',
  });
  t.same(out, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], etag: '"v1"' });
});
