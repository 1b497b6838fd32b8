import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import { GatewayError } from '../../src/errors.js';
import { LogoutTokenError } from '../../src/oidc/errors.js';
import { BACKCHANNEL_LOGOUT_EVENT, createLogoutTokenVerifier } from '../../src/oidc/logout-token.js';

/**
 * Back-Channel Logout 1.0 §2.6, rule by rule, with our own keys served from a real JWKS endpoint
 * (oidc-client.test.ts checks a token from the real IdP).
 */
const ISSUER = 'https://idp.example.test';
const CLIENT_ID = 'portcullis';
const NOW = 1_750_000_000_000;
const clock = { now: () => NOW };

const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
let jwksRequests = 0;
let jwksUp = true;
const jwksServer = createServer((req, res) => {
  jwksRequests++;
  if (!jwksUp) return res.writeHead(503).end();
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ keys: [jwk] }));
});
await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise((resolve) => jwksServer.close(resolve)));
const jwksUri = new URL(`http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`);

const verify = createLogoutTokenVerifier({ issuer: ISSUER, clientId: CLIENT_ID, jwksUri, algorithms: ['ES256', 'none', 'HS256'], clock });

function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  return {
    iss: ISSUER,
    aud: CLIENT_ID,
    iat: Math.floor(NOW / 1000) - 5,
    exp: Math.floor(NOW / 1000) + 120,
    jti: 'j1',
    sub: 'alice',
    sid: 'idp-sid-1',
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    ...overrides,
  };
}

async function sign(payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const clean = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
  return new SignJWT(clean).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'logout+jwt', ...header }).sign(privateKey);
}

t.test('a valid logout token yields sub and sid', async (t) => {
  const token = { iss: ISSUER, jti: 'j1', acceptedForMs: 180_000 };
  t.same(await verify(await sign(claims())), { sub: 'alice', sid: 'idp-sid-1', token });
  t.same(await verify(await sign(claims({ sid: undefined }))), { sub: 'alice', token }, 'sub alone');
  t.same(await verify(await sign(claims({ sub: undefined }))), { sid: 'idp-sid-1', token }, 'sid alone');
  t.match(await verify(await sign(claims(), { typ: undefined })), { sub: 'alice', sid: 'idp-sid-1' }, 'untyped');
  t.match(await verify(await sign(claims(), { typ: 'JWT' })), { sub: 'alice', sid: 'idp-sid-1' });
  t.match(await verify(await sign(claims({ aud: ['other', CLIENT_ID] }))), { sub: 'alice', sid: 'idp-sid-1' }, 'aud array');
  t.match(await verify(await sign(claims({ jti: 'x'.repeat(256) }))), { token: { jti: 'x'.repeat(256) } }, 'a long jti');
});

t.test('the replay guard lasts exactly as long as the token would still pass', async (t) => {
  const nowS = Math.floor(NOW / 1000);
  const cases: Array<[string, Record<string, unknown>, number]> = [
    ['exp in 120s: exp + 60s tolerance', { exp: nowS + 120 }, 180_000],
    ['exp far away: iat + 10m + 60s', { iat: nowS - 5, exp: nowS + 86_400 }, 655_000],
    ['exp just passed, within the tolerance', { exp: nowS - 30 }, 30_000],
  ];
  for (const [name, overrides, expected] of cases) {
    t.equal((await verify(await sign(claims(overrides)))).token.acceptedForMs, expected, name);
  }
});

t.test('jti and exp are required (§2.4, errata set 1)', async (t) => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['no jti', { jti: undefined }],
    ['empty jti', { jti: '' }],
    ['jti a number', { jti: 42 }],
    ['jti an object', { jti: { a: 1 } }],
    ['jti too long', { jti: 'x'.repeat(257) }],
    ['no exp', { exp: undefined }],
    ['exp not a number', { exp: 'soon' }],
  ];
  for (const [name, overrides] of cases) {
    const error = await verify(await sign(claims(overrides))).then(() => undefined, (e: unknown) => e);
    t.type(error, LogoutTokenError, name);
  }
});

t.test('every §2.6 rule refuses', async (t) => {
  const cases: Array<[string, Promise<string> | string]> = [
    ['wrong issuer', sign(claims({ iss: 'https://evil.example' }))],
    ['wrong audience', sign(claims({ aud: 'someone-else' }))],
    ['no iat', sign(claims({ iat: undefined }))],
    ['too old', sign(claims({ iat: Math.floor(NOW / 1000) - 3600, exp: undefined }))],
    ['expired', sign(claims({ exp: Math.floor(NOW / 1000) - 300 }))],
    ['no events', sign(claims({ events: undefined }))],
    ['events without the logout event', sign(claims({ events: { 'http://example/other': {} } }))],
    ['logout event not an object', sign(claims({ events: { [BACKCHANNEL_LOGOUT_EVENT]: 'yes' } }))],
    ['events an array', sign(claims({ events: [BACKCHANNEL_LOGOUT_EVENT] }))],
    ['neither sub nor sid', sign(claims({ sub: undefined, sid: undefined }))],
    ['a nonce (an ID token in disguise)', sign(claims({ nonce: 'n' }))],
    ['another typ', sign(claims(), { typ: 'at+jwt' })],
    ['unknown kid', sign(claims(), { kid: 'k2' })],
    ['alg none', `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'logout+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`],
    ['not a JWT', 'hello'],
    ['empty', ''],
  ];
  for (const [name, token] of cases) {
    const error = await verify(await token).then(() => undefined, (e: unknown) => e);
    t.type(error, LogoutTokenError, name);
  }
});

t.test('a signature by another key is refused', async (t) => {
  const other = await generateKeyPair('ES256');
  const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'logout+jwt' }).sign(other.privateKey);
  await t.rejects(verify(token), LogoutTokenError);
});

t.test('JWKS unreachable is "cannot tell now" (503), not "invalid" (400)', async (t) => {
  const fresh = createLogoutTokenVerifier({ issuer: ISSUER, clientId: CLIENT_ID, jwksUri, algorithms: ['ES256'], clock });
  jwksUp = false;
  t.teardown(() => {
    jwksUp = true;
  });
  const before = jwksRequests;
  const error = await fresh(await sign(claims())).then(() => undefined, (e: unknown) => e);
  t.type(error, GatewayError);
  t.equal((error as GatewayError).code, 'GW_IDP_UNAVAILABLE');
  t.ok(jwksRequests > before);
  const gone = createLogoutTokenVerifier({ issuer: ISSUER, clientId: CLIENT_ID, jwksUri: new URL('http://127.0.0.1:9/jwks'), algorithms: ['ES256'], clock });
  const refused = await gone(await sign(claims())).then(() => undefined, (e: unknown) => e);
  t.equal((refused as GatewayError).code, 'GW_IDP_UNAVAILABLE');
});
