import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { SignJWT, generateKeyPair } from 'jose';
import { parseConfig, type Config } from '../../src/config/index.js';
import { GatewayError } from '../../src/errors.js';
import { systemClock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/observability/logger.js';
import { createOidcClient } from '../../src/oidc/client.js';
import { LogoutTokenError } from '../../src/oidc/errors.js';
import type { LoginResult, OidcClient } from '../../src/oidc/types.js';
import { BrowserClient } from '../support/browser-client.js';
import { gatewayClient, startTestIdp, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type DemoIdp } from '../support/idp.js';
import { freePort } from '../support/ports.js';

/** createOidcClient against the real demo IdP (oidc-provider): discovery, code flow, refresh, logout tokens. */

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

function makeConfig(issuer: string, publicUrl: string): Config {
  return parseConfig(
    {
      server: { public_url: publicUrl },
      idp: { issuer, client_id: TEST_CLIENT_ID, client_secret: TEST_CLIENT_SECRET, allow_insecure_http: true },
      cookie: { secret: 'a-test-cookie-secret-that-is-long-enough-0123456789' },
      routes: [{ from: publicUrl, to: 'http://127.0.0.1:9', public: true }],
    },
    { baseDir: FIXTURES, env: {} },
  );
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms}ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Receives what the IdP posts to the gateway's back-channel logout URL. */
async function startLogoutReceiver(port: number): Promise<{ tokens: string[]; server: Server }> {
  const tokens: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token');
      if (req.method === 'POST' && token) tokens.push(token);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { tokens, server };
}

/** Browser → IdP sign-in form → the redirect to our callback (not followed: we are the gateway). */
async function signIn(client: OidcClient, username: string, publicUrl: string) {
  const { authorizationUrl, transaction } = await client.startLogin(new URL(`${publicUrl}/app`));
  const browser = new BrowserClient();
  let res = await browser.get(authorizationUrl.href);
  for (let hop = 0; hop < 20; hop++) {
    if (res.location?.startsWith(`${publicUrl}/.portcullis/callback`)) {
      return { callbackUrl: new URL(res.location), transaction, browser };
    }
    if (res.location) res = await browser.get(res.location, { chain: res.chain });
    else res = await browser.submit(res, { login: username, password: 'x' });
  }
  throw new Error(`never reached the callback (last: ${res.status} ${res.url})`);
}

let idp: DemoIdp;
let client: OidcClient;
let publicUrl: string;
let receiver: { tokens: string[]; server: Server };

t.before(async () => {
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  receiver = await startLogoutReceiver(port);
  idp = await startTestIdp({ publicUrl, rotateRefreshToken: true, accessTokenTtlSeconds: 120 });
  client = createOidcClient({ config: makeConfig(idp.issuer, publicUrl), logger, clock: systemClock });
  await within(client.whenReady(), 10_000, 'discovery');
});

t.teardown(async () => {
  await client?.close();
  await idp?.close();
  if (receiver) await new Promise((resolve) => receiver.server.close(resolve));
});

t.test('discovery retries while the IdP is down, then succeeds; nothing works before it', async (t) => {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const pending = createOidcClient({
    config: makeConfig(issuer, publicUrl),
    logger,
    clock: systemClock,
    options: { discoveryRetryInitialMs: 50, discoveryRetryMaxMs: 200 },
  });
  t.teardown(() => pending.close());
  await new Promise((resolve) => setTimeout(resolve, 300)); // a few failed attempts
  t.equal(pending.isReady(), false);
  const started = Date.now();
  await t.rejects(pending.startLogin(new URL(`${publicUrl}/app`)), { code: 'GW_IDP_UNAVAILABLE', status: 503 });
  t.ok(Date.now() - started < 2500, 'a login during an outage fails fast');
  t.equal(pending.endSessionUrl({ postLogoutRedirectUri: `${publicUrl}/.portcullis/signed-out` }), undefined);
  t.match(await pending.refresh('whatever'), { kind: 'transient' });
  await t.rejects(pending.verifyLogoutToken('a.b.c'), { code: 'GW_IDP_UNAVAILABLE' });

  const late = await startTestIdp({ port, clients: [gatewayClient(publicUrl)] });
  t.teardown(() => late.close());
  await within(pending.whenReady(), 5000, 'discovery after the IdP came up');
  t.equal(pending.isReady(), true);
  const { authorizationUrl } = await pending.startLogin(new URL(`${publicUrl}/app`));
  t.equal(authorizationUrl.origin, issuer);
});

t.test('whenReady rejects when the client is closed before discovery', async (t) => {
  const port = await freePort();
  const doomed = createOidcClient({ config: makeConfig(`http://localhost:${port}`, publicUrl), logger, clock: systemClock });
  const ready = doomed.whenReady();
  await doomed.close();
  await t.rejects(ready);
});

let alice: LoginResult;

t.test('the authorization request: code, PKCE S256, state, nonce, our redirect_uri and scopes', async (t) => {
  const { authorizationUrl, transaction } = await client.startLogin(new URL(`${publicUrl}/app/x?y=1`));
  const params = authorizationUrl.searchParams;
  t.equal(authorizationUrl.origin, idp.issuer);
  t.equal(params.get('response_type'), 'code');
  t.equal(params.get('client_id'), TEST_CLIENT_ID);
  t.equal(params.get('redirect_uri'), `${publicUrl}/.portcullis/callback`);
  t.equal(params.get('code_challenge_method'), 'S256');
  t.equal(params.get('state'), transaction.state);
  t.equal(params.get('nonce'), transaction.nonce);
  t.equal(params.get('scope'), 'openid profile email offline_access');
  t.not(params.get('code_challenge'), transaction.codeVerifier, 'only the challenge travels');
  t.equal(transaction.returnTo, `${publicUrl}/app/x?y=1`);
});

t.test('full code flow: tokens, ID token + userinfo claims, sid, access token expiry', async (t) => {
  const { callbackUrl, transaction } = await signIn(client, 'alice', publicUrl);
  t.equal(callbackUrl.searchParams.get('iss'), idp.issuer, 'the IdP sends RFC 9207 iss');
  const before = Date.now();
  alice = await client.completeLogin(callbackUrl, transaction);
  t.equal(alice.sub, 'alice');
  t.equal(alice.claims.email, 'alice@example.com');
  t.same(alice.claims.groups, ['staff']);
  t.equal(alice.claims.nonce, undefined, 'protocol claims are dropped');
  t.ok(alice.tokens.accessToken);
  t.ok(alice.tokens.refreshToken, 'a refresh token is always issued');
  t.ok(alice.tokens.idToken);
  t.type(alice.sid, 'string');
  t.ok(alice.accessTokenExpiresAt! >= before + 110_000 && alice.accessTokenExpiresAt! <= Date.now() + 121_000);
});

t.test('the demo IdP puts "admin" in the admins group', async (t) => {
  const { callbackUrl, transaction } = await signIn(client, 'admin', publicUrl);
  const admin = await client.completeLogin(callbackUrl, transaction);
  t.same(admin.claims.groups, ['staff', 'admins']);
  t.equal(admin.claims.name, 'Admin');
});

t.test('the callback is checked: state, nonce, iss, PKCE verifier', async (t) => {
  const cases: Array<[string, (tx: import('../../src/oidc/types.js').LoginTransaction, url: URL) => void]> = [
    ['state mismatch', (tx) => (tx.state = 'other-state')],
    ['nonce mismatch', (tx) => (tx.nonce = 'other-nonce')],
    ['wrong code verifier', (tx) => (tx.codeVerifier = 'x'.repeat(64))],
    ['iss from another issuer', (_tx, url) => url.searchParams.set('iss', 'http://evil.example')],
    ['no code', (_tx, url) => url.searchParams.delete('code')],
  ];
  for (const [name, spoil] of cases) {
    const { callbackUrl, transaction } = await signIn(client, 'carol', publicUrl);
    spoil(transaction, callbackUrl);
    await t.rejects(client.completeLogin(callbackUrl, transaction), { code: 'GW_BAD_CALLBACK', status: 400 }, name);
  }
  const { callbackUrl, transaction } = await signIn(client, 'carol', publicUrl);
  await client.completeLogin(callbackUrl, transaction);
  await t.rejects(client.completeLogin(callbackUrl, transaction), { code: 'GW_BAD_CALLBACK' }, 'a code works once');
  const denied = new URL(`${publicUrl}/.portcullis/callback?error=access_denied&state=s&iss=${encodeURIComponent(idp.issuer)}`);
  await t.rejects(
    client.completeLogin(denied, { state: 's', nonce: 'n', codeVerifier: 'v'.repeat(43), returnTo: publicUrl, createdAt: 0 }),
    { code: 'GW_FORBIDDEN' },
  );
});

t.test('refresh: new tokens; with rotation a reused refresh token is refused and counted', async (t) => {
  const first = alice.tokens.refreshToken!;
  const outcome = await client.refresh(first);
  if (outcome.kind !== 'ok') throw new Error(`refresh failed: ${JSON.stringify(outcome)}`);
  t.not(outcome.tokens.accessToken, alice.tokens.accessToken);
  t.ok(outcome.tokens.refreshToken && outcome.tokens.refreshToken !== first, 'rotated');
  t.ok(outcome.accessTokenExpiresAt! > Date.now());

  const reuse = await client.refresh(first);
  t.same(reuse, { kind: 'refused', error: 'invalid_grant' });
  t.equal(idp.refreshTokenReuseCount(), 1);
  t.match(await client.refresh(outcome.tokens.refreshToken!), { kind: 'refused' }, 'reuse revoked the whole grant');
  t.match(await client.refresh('not-a-refresh-token'), { kind: 'refused', error: 'invalid_grant' });
});

t.test('refresh after the grant is revoked at the IdP is refused', async (t) => {
  const { callbackUrl, transaction } = await signIn(client, 'dave', publicUrl);
  const dave = await client.completeLogin(callbackUrl, transaction);
  t.ok(idp.refreshTokens('dave').length >= 1);
  t.ok(idp.revokeGrants('dave') >= 1);
  t.same(await client.refresh(dave.tokens.refreshToken!), { kind: 'refused', error: 'invalid_grant' });
});

t.test('revoke() ends a refresh token (best effort, never throws)', async (t) => {
  const { callbackUrl, transaction } = await signIn(client, 'erin', publicUrl);
  const erin = await client.completeLogin(callbackUrl, transaction);
  await client.revoke(erin.tokens.refreshToken!, 'refresh_token');
  t.match(await client.refresh(erin.tokens.refreshToken!), { kind: 'refused' });
  await client.revoke('garbage');
});

t.test('endSessionUrl: the IdP end_session_endpoint with hint, redirect, client_id and state', async (t) => {
  const url = new URL(
    client.endSessionUrl({ idTokenHint: 'the-id-token', postLogoutRedirectUri: `${publicUrl}/.portcullis/signed-out`, state: 'st' })!,
  );
  t.equal(url.origin, idp.issuer);
  t.equal(url.searchParams.get('id_token_hint'), 'the-id-token');
  t.equal(url.searchParams.get('post_logout_redirect_uri'), `${publicUrl}/.portcullis/signed-out`);
  t.equal(url.searchParams.get('client_id'), TEST_CLIENT_ID);
  t.equal(url.searchParams.get('state'), 'st');
});

t.test('verifyLogoutToken accepts a real back-channel logout token and rejects forged ones', async (t) => {
  const { callbackUrl, transaction } = await signIn(client, 'frank', publicUrl);
  const frank = await client.completeLogin(callbackUrl, transaction);
  receiver.tokens.length = 0;
  t.equal(await idp.backchannelLogout('frank'), 1);
  t.equal(receiver.tokens.length, 1, 'the IdP posted one logout token');
  const token = receiver.tokens[0]!;
  t.match(await client.verifyLogoutToken(token), { sub: 'frank', sid: frank.sid, token: { iss: idp.issuer, jti: /^.+$/ } });

  const [header, payload, signature] = token.split('.') as [string, string, string];
  const flipped = `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
  await t.rejects(client.verifyLogoutToken(`${header}.${payload}.${flipped}`), LogoutTokenError, 'tampered signature');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const otherPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url');
  await t.rejects(client.verifyLogoutToken(`${header}.${otherPayload}.${signature}`), LogoutTokenError, 'tampered claims');

  const { privateKey } = await generateKeyPair('RS256');
  const forged = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt', kid: JSON.parse(Buffer.from(header, 'base64url').toString()).kid })
    .sign(privateKey);
  await t.rejects(client.verifyLogoutToken(forged), LogoutTokenError, 'signed by someone else with the same kid');
  await t.rejects(client.verifyLogoutToken(frank.tokens.idToken!), LogoutTokenError, 'an ID token is not a logout token');
  await t.rejects(client.verifyLogoutToken('garbage'), LogoutTokenError);
  await t.rejects(client.verifyLogoutToken(''), LogoutTokenError);
  await t.rejects(client.verifyLogoutToken('x'.repeat(100_000)), LogoutTokenError);
});

t.test('a logout token from another IdP (same client_id) is refused', async (t) => {
  const port = await freePort();
  const otherReceiver = await startLogoutReceiver(port);
  t.teardown(() => new Promise((resolve) => otherReceiver.server.close(resolve)));
  const otherUrl = `http://127.0.0.1:${port}`;
  const other = await startTestIdp({ publicUrl: otherUrl });
  t.teardown(() => other.close());
  const otherClient = createOidcClient({ config: makeConfig(other.issuer, otherUrl), logger, clock: systemClock });
  t.teardown(() => otherClient.close());
  await within(otherClient.whenReady(), 5000, 'discovery');
  const { callbackUrl, transaction } = await signIn(otherClient, 'grace', otherUrl);
  await otherClient.completeLogin(callbackUrl, transaction);
  await other.backchannelLogout('grace');
  t.equal(otherReceiver.tokens.length, 1);
  await t.rejects(client.verifyLogoutToken(otherReceiver.tokens[0]!), LogoutTokenError);
});

t.test('with the IdP down after discovery: refresh is transient, login still builds its URL', async (t) => {
  const port = await freePort();
  const down = await startTestIdp({ port, clients: [gatewayClient(publicUrl)] });
  const downClient = createOidcClient({
    config: makeConfig(down.issuer, publicUrl),
    logger,
    clock: systemClock,
    options: { requestTimeoutMs: 2000 },
  });
  t.teardown(() => downClient.close());
  await within(downClient.whenReady(), 5000, 'discovery');
  const { callbackUrl, transaction } = await signIn(downClient, 'heidi', publicUrl);
  const heidi = await downClient.completeLogin(callbackUrl, transaction);
  await down.close();

  const outcome = await downClient.refresh(heidi.tokens.refreshToken!);
  t.equal(outcome.kind, 'transient');
  t.match(outcome, { error: /network error|timeout/ });
  t.equal(downClient.isReady(), true, 'ready does not flip back');
  const { authorizationUrl } = await downClient.startLogin(new URL(`${publicUrl}/app`));
  t.equal(authorizationUrl.origin, down.issuer);
  const error = await downClient
    .completeLogin(new URL(`${publicUrl}/.portcullis/callback?code=abc&state=${transaction.state}&iss=${encodeURIComponent(down.issuer)}`), transaction)
    .catch((e: unknown) => e);
  t.type(error, GatewayError);
  t.equal((error as GatewayError).code, 'GW_IDP_UNAVAILABLE', 'code redemption with the IdP down is a 503');
});
