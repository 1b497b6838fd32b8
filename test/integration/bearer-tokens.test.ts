import { exportJWK, generateKeyPair, SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import t from 'tap';
import { startStack, type Stack } from '../support/stack.js';
import { openWebSocket } from '../support/websocket.js';

/**
 * Routes with bearer_tokens against a real oidc-provider: client_credentials tokens as RFC 9068
 * JWTs (with a resource indicator) and as opaque tokens (introspection), judged by the same
 * policies as sessions; the upstream gets the gateway's assertion instead of the token.
 */
const API = 'https://api.portcullis.test';
const OTHER_API = 'https://other.portcullis.test';
const clients = [
  { client_id: 'api-client', client_secret: 'api-client-secret-of-reasonable-length' },
  { client_id: 'other-client', client_secret: 'other-client-secret-of-reasonable-length' },
].map((c) => ({ ...c, redirect_uris: [], grant_types: ['client_credentials'] }));

let offsetMs = 0;
const clock = { now: () => Date.now() + offsetMs };
let stack: Stack;

t.before(async () => {
  stack = await startStack({
    clock,
    extraClients: clients,
    idp: { apiResources: [{ resource: API, scope: 'api:read api:write' }, { resource: OTHER_API, scope: 'api:read' }] },
    policiesDir: 'bearer-policies',
    config: () => ({ idp: { access_token_audiences: [API] } }),
    routes: ({ url, upstream }) => [
      { from: `${url}/api`, to: upstream.url, policy: 'api-client', bearer_tokens: true, websockets: true },
      { from: `${url}/read`, to: upstream.url, policy: 'api-read', bearer_tokens: true },
      { from: `${url}/app`, to: upstream.url, policy: 'everyone' },
      { from: `${url}/open`, to: upstream.url, public: true },
    ],
  });
});
t.teardown(() => stack.close());

/** with a resource indicator: a JWT for that API (scope api:read); without: an opaque token */
async function token(clientId: string, resource?: string): Promise<string> {
  const secret = clients.find((c) => c.client_id === clientId)!.client_secret;
  const body = new URLSearchParams({ grant_type: 'client_credentials', ...(resource ? { resource, scope: 'api:read' } : {}) });
  const res = await fetch(`${stack.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    body,
  });
  const json = (await res.json()) as { access_token?: string };
  if (!json.access_token) throw new Error(`no token: ${JSON.stringify(json)}`);
  return json.access_token;
}

async function call(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.url}${path}`, { headers: { accept: 'application/json', ...headers }, redirect: 'manual' });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json };
}

const bearer = (value: string) => ({ authorization: `Bearer ${value}` });

t.test('a JWT access token for the API is judged by policy; the upstream gets the assertion, not the token', async (t) => {
  const jwt = await token('api-client', API);
  t.equal(decodeProtectedHeader(jwt).typ, 'at+jwt', 'the IdP issued an RFC 9068 token');
  const res = await call('/api/things', bearer(jwt));
  t.equal(res.status, 200);
  t.equal(res.headers.get('set-cookie'), null, 'no cookie on a bearer request');
  const seen = res.json.headers;
  t.equal(seen.authorization, undefined, 'the token stays at the gateway');
  t.equal(seen['x-portcullis-user'], 'api-client', 'sub of a client_credentials token is the client_id');
  const assertion = decodeJwt(seen['x-portcullis-jwt-assertion']);
  t.match(assertion, { sub: 'api-client', client_id: 'api-client', aud: stack.upstream.url.replace(/\/$/, '') });
  t.notOk('sid' in assertion, 'no session behind a bearer request');

  const read = await call('/read/x', bearer(jwt));
  t.equal(read.status, 200, 'scope is a list to policies: claim scope = api:read matches "api:read"');
});

t.test('a valid token the policy does not allow is a 403 with insufficient_scope', async (t) => {
  const res = await call('/api/things', bearer(await token('other-client', API)));
  t.equal(res.status, 403);
  t.match(res.headers.get('www-authenticate'), /^Bearer realm="portcullis", error="insufficient_scope"/);
  t.equal(res.headers.get('set-cookie'), null);
});

t.test('forged, wrong-audience, expired and garbage tokens are 401 invalid_token', async (t) => {
  const real = await token('api-client', API);
  // the same claims and the IdP's kid, signed by a key the IdP does not have
  const { privateKey } = await generateKeyPair('RS256');
  const forged = await new SignJWT(decodeJwt(real))
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: decodeProtectedHeader(real).kid! })
    .sign(privateKey);
  const cases: Array<[string, string, RegExp]> = [
    ['forged', forged, /signature/],
    ['wrong audience', await token('api-client', OTHER_API), /audience/],
    ['garbage', 'not-a-token-at-all', /not active/],
    ['malformed', 'a b"c', /malformed/],
  ];
  for (const [name, value, description] of cases) {
    const res = await call('/api/things', bearer(value));
    t.equal(res.status, 401, name);
    const challenge = res.headers.get('www-authenticate') ?? '';
    t.match(challenge, /^Bearer realm="portcullis", error="invalid_token", error_description="[^"]+"$/, `${name}: RFC 6750 challenge`);
    t.match(challenge, description, name);
    t.notOk(challenge.includes(value.slice(0, 12)), `${name}: no token content in the answer`);
    t.equal(res.json?.error, 'GW_INVALID_TOKEN', `${name}: coded JSON error`);
    t.equal(res.headers.get('set-cookie'), null, `${name}: no cookie`);
  }

  // expiry: the same good token, once the gateway's clock is past its exp (+ tolerance)
  t.equal((await call('/api/things', bearer(real))).status, 200);
  offsetMs = 2 * 3600_000;
  try {
    const res = await call('/api/things', bearer(real));
    t.equal(res.status, 401, 'expired');
    t.match(res.headers.get('www-authenticate'), /error="invalid_token", error_description="token expired"/);
  } finally {
    offsetMs = 0;
  }
});

t.test('an opaque token is introspected; a revoked one is refused', async (t) => {
  const opaque = await token('api-client');
  t.not(opaque.split('.').length, 3, 'no resource indicator: an opaque token');
  const res = await call('/api/things', bearer(opaque));
  t.equal(res.status, 200);
  t.equal(res.json.headers.authorization, undefined);
  t.equal(res.json.headers['x-portcullis-user'], 'api-client');
  t.ok(res.json.headers['x-portcullis-jwt-assertion']);
  t.equal(res.headers.get('set-cookie'), null);
  t.equal((await call('/api/things', bearer(await token('other-client')))).status, 403, 'policy applies to opaque tokens too');

  const revoked = await token('api-client');
  const secret = clients[0]!.client_secret;
  const revocation = await fetch(`${stack.issuer}/token/revocation`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`api-client:${secret}`).toString('base64')}` },
    body: new URLSearchParams({ token: revoked }),
  });
  t.equal(revocation.status, 200);
  const refused = await call('/api/things', bearer(revoked));
  t.equal(refused.status, 401);
  t.match(refused.headers.get('www-authenticate'), /error="invalid_token", error_description="token is not active"/);
});

t.test('no token on a bearer route: the usual sign-in answers, with a Bearer challenge for APIs', async (t) => {
  const api = await call('/api/things');
  t.equal(api.status, 401);
  const challenge = api.headers.get('www-authenticate') ?? '';
  t.match(challenge, /Cookie realm="portcullis"/);
  t.match(challenge, /Bearer realm="portcullis"(,|$)/);
  t.notMatch(challenge, /invalid_token/, 'no error code when no token was sent (RFC 6750 §3.1)');
  const browser = await call('/api/things', { accept: 'text/html' });
  t.equal(browser.status, 302, 'a browser is sent to sign in');
});

t.test('routes without bearer_tokens ignore Authorization', async (t) => {
  const jwt = await token('api-client', API);
  const app = await call('/app/x', bearer(jwt));
  t.equal(app.status, 401, 'a token does not sign in on a session-only route');
  t.match(app.headers.get('www-authenticate'), /^Cookie realm/);
  t.notMatch(app.headers.get('www-authenticate'), /Bearer/);
  const open = await call('/open/x', bearer('anything'));
  t.equal(open.status, 200);
  t.equal(open.json.headers.authorization, 'Bearer anything', 'passed through as before');
});

t.test('a token wins over a session cookie', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/app/`, 'alice');
  const cookie = `_portcullis=${browser.cookie('_portcullis')}`;
  t.equal((await call('/app/x', { cookie })).status, 200, 'the session works');
  const res = await call('/api/things', { cookie, ...bearer(await token('other-client', API)) });
  t.equal(res.status, 403, 'judged as the token, not as alice');
  const ok = await call('/api/things', { cookie, ...bearer(await token('api-client', API)) });
  t.equal(ok.status, 200);
  t.equal(ok.json.headers['x-portcullis-user'], 'api-client');
  t.equal(ok.json.headers.cookie, undefined, 'the gateway cookie is stripped as always');
  t.equal(ok.headers.get('set-cookie'), null);
});

t.test('a WebSocket upgrade is admitted by its token too', async (t) => {
  const jwt = await token('api-client', API);
  const ws = await openWebSocket(`${stack.url}/api/socket`, bearer(jwt));
  t.equal(ws.status, 101);
  ws.socket.destroy();
  const seen = stack.upstream.requests.filter((r) => r.upgrade).at(-1)!;
  t.equal(seen.headers.authorization, undefined);
  t.equal(seen.headers['x-portcullis-user'], 'api-client');
  t.ok(seen.headers['x-portcullis-jwt-assertion']);
  await t.rejects(openWebSocket(`${stack.url}/api/socket`, bearer(await token('other-client', API))), /expected 101, got 403/);
});

// last: it stops the IdP
t.test('an IdP that cannot be asked is a 503, while a verified JWT keeps working', async (t) => {
  const jwt = await token('api-client', API);
  const opaque = await token('api-client');
  t.equal((await call('/api/x', bearer(jwt))).status, 200);
  await stack.stopIdp();
  t.equal((await call('/api/x', bearer(jwt))).status, 200, 'keys and answer are cached');
  const res = await call('/api/x', bearer(opaque));
  t.equal(res.status, 503, 'introspection unreachable: not the token\'s fault');
  t.equal(res.json?.error, 'GW_IDP_UNAVAILABLE');
});
