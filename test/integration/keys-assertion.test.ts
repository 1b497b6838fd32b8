import { request as httpRequest } from 'node:http';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import t from 'tap';
import { runRotateKeysCommand } from '../../src/cli/rotate-keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { signIn } from '../support/replicas.js';
import { startStack, type Stack } from '../support/stack.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

/** The identity assertion as an upstream sees it, and the two /.well-known documents it verifies with. */
let stack: Stack;
let other: Upstream;
let cookie: string;

t.before(async () => {
  other = await startUpstream();
  stack = await startStack({
    routes: ({ url, upstream }) => [
      { from: url, to: upstream.url, policy: 'everyone' },
      { from: `${url}/other`, to: `${other.url}/v1`, policy: 'everyone' },
      { from: `${url}/open`, to: other.url, public: true },
    ],
  });
  cookie = `_portcullis=${await signIn(stack, stack.url, 'alice')}`;
});
t.teardown(async () => {
  await stack.close();
  await other.close();
});

/** What the upstream received for a request through the gateway. */
async function through(path: string, headers: Record<string, string> = {}): Promise<Record<string, string | undefined>> {
  const res = await fetch(`${stack.url}${path}`, { headers: { accept: 'application/json', cookie, ...headers } });
  if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
  return ((await res.json()) as { headers: Record<string, string | undefined> }).headers;
}

async function jwks(): Promise<JSONWebKeySet> {
  return (await (await fetch(`${stack.url}/.well-known/portcullis/jwks.json`)).json()) as JSONWebKeySet;
}

/** node:http, so the Host header goes out as given. */
function raw(path: string, options: { method?: string; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = httpRequest(`${stack.url}${path}`, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('the upstream gets an assertion that verifies against the gateway JWKS, with the session identity', async (t) => {
  const headers = await through('/whoami', { 'x-portcullis-jwt-assertion': 'forged.by.client' });
  const assertion = headers['x-portcullis-jwt-assertion'];
  t.ok(assertion, 'an assertion was forwarded');
  t.not(assertion, 'forged.by.client', 'the client-sent one was dropped');
  const userinfo = (await (await fetch(`${stack.url}/.portcullis/userinfo`, { headers: { cookie } })).json()) as { session: { id: string } };

  const before = Math.floor(Date.now() / 1000);
  const { payload, protectedHeader } = await jwtVerify(assertion!, createLocalJWKSet(await jwks()), {
    issuer: stack.url,
    audience: new URL(stack.upstream.url).origin,
    algorithms: ['ES256'],
  });
  t.equal(protectedHeader.alg, 'ES256');
  t.equal(protectedHeader.typ, 'JWT');
  t.ok(protectedHeader.kid, 'kid in the header');
  t.match(payload, { iss: stack.url, sub: 'alice', email: 'alice@example.com', groups: ['staff'], sid: userinfo.session.id });
  t.equal(payload.exp! - payload.iat!, 300, 'exp = iat + signing.assertion_ttl (5m)');
  t.ok(payload.exp! > before, 'not expired');
  t.equal(headers['x-portcullis-user'], 'alice', 'the plain identity headers are still there');

  t.equal((await through('/again'))['x-portcullis-jwt-assertion'], assertion, 'the next request reuses the cached assertion');
});

t.test('the audience is the route target origin', async (t) => {
  const assertion = (await through('/other/x'))['x-portcullis-jwt-assertion']!;
  const { payload } = await jwtVerify(assertion, createLocalJWKSet(await jwks()), { audience: new URL(other.url).origin });
  t.equal(payload.aud, new URL(other.url).origin);
  await t.rejects(jwtVerify(assertion, createLocalJWKSet(await jwks()), { audience: new URL(stack.upstream.url).origin }), 'not valid for another upstream');
});

t.test('public routes carry no identity, and nothing a client claims', async (t) => {
  const res = await fetch(`${stack.url}/open/x`, { headers: { 'x-portcullis-jwt-assertion': 'forged', 'x-portcullis-user': 'mallory' } });
  const { headers } = (await res.json()) as { headers: Record<string, string | undefined> };
  t.equal(headers['x-portcullis-jwt-assertion'], undefined);
  t.equal(headers['x-portcullis-user'], undefined);
});

t.test('GET /.well-known/portcullis/jwks.json: cacheable 60s, ETag, 304 on If-None-Match', async (t) => {
  const res = await raw('/.well-known/portcullis/jwks.json');
  t.equal(res.status, 200);
  t.equal(res.headers['cache-control'], 'max-age=60');
  t.match(res.headers['content-type'], /^application\/json/);
  t.equal(res.headers['x-content-type-options'], 'nosniff', 'security headers on a gateway-made response');
  t.ok(res.headers['x-request-id']);
  const etag = res.headers.etag as string;
  t.match(etag, /^"[^"]+"$/);
  const body = JSON.parse(res.body) as JSONWebKeySet;
  t.equal(body.keys.length, 1);
  t.match(body.keys[0], { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
  t.notOk('d' in body.keys[0]!, 'no private member');

  const again = await raw('/.well-known/portcullis/jwks.json', { headers: { 'if-none-match': etag } });
  t.equal(again.status, 304);
  t.equal(again.body, '');
  t.equal(again.headers.etag, etag);
  t.equal(again.headers['cache-control'], 'max-age=60');
  t.equal((await raw('/.well-known/portcullis/jwks.json', { headers: { 'if-none-match': '"stale"' } })).status, 200);

  const head = await raw('/.well-known/portcullis/jwks.json', { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.body, '');
  const post = await raw('/.well-known/portcullis/jwks.json', { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET, HEAD');
  t.equal(post.headers['cache-control'], 'no-store', 'errors are not cached');
});

t.test('GET /.well-known/portcullis: issuer and jwks_uri; on every host, no session needed', async (t) => {
  const res = await raw('/.well-known/portcullis');
  t.equal(res.status, 200);
  t.same(JSON.parse(res.body), { issuer: stack.url, jwks_uri: `${stack.url}/.well-known/portcullis/jwks.json` });
  const foreign = await raw('/.well-known/portcullis/jwks.json', { headers: { host: 'unrouted.example.net' } });
  t.equal(foreign.status, 200, 'served on a host no route matches');
  t.equal(JSON.parse(foreign.body).keys.length, 1);
  const metrics = await (await fetch(`${stack.adminUrl}/metrics`)).text();
  t.match(metrics, /^portcullis_jwks_keys 1$/m, 'portcullis_jwks_keys');
});

t.test('rotate-keys refuses the memory store with a clear message, exit 1', async (t) => {
  const lines: string[] = [];
  const code = await runRotateKeysCommand(stack.replicas[0]!.config, {
    logger: createLogger({ level: 'silent' }),
    out: (l) => lines.push(l),
    err: (l) => lines.push(l),
  });
  t.equal(code, 1);
  t.match(lines.join('\n'), /session\.store: redis/);
  t.equal(decodeProtectedHeader((await through('/still'))['x-portcullis-jwt-assertion']!).alg, 'ES256');
});
