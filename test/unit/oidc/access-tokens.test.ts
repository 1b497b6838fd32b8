import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import t from 'tap';
import { GatewayError } from '../../../src/errors.js';
import { createAccessTokenVerifier, type AccessTokenIdp } from '../../../src/oidc/access-tokens.js';

/** The verifier with tokens minted here (jose), an in-memory key set and a scripted introspection. */
const ISSUER = 'https://idp.example.test';
const AUD = 'https://api.example.test';
const { privateKey, publicKey } = await generateKeyPair('ES256');
const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });

function setup(options: { introspection?: (token: string) => Record<string, unknown> | Promise<Record<string, unknown>>; audiences?: string[] } = {}) {
  let now = Date.UTC(2030, 0, 1);
  const calls: string[] = [];
  const idp: AccessTokenIdp = {
    metadata: () => ({ issuer: ISSUER, jwks_uri: `${ISSUER}/jwks`, introspection_endpoint: `${ISSUER}/introspect` }),
    async introspect(token) {
      calls.push(token);
      return options.introspection ? options.introspection(token) : { active: false };
    },
  };
  const clock = { now: () => now };
  const verifier = createAccessTokenVerifier({ idp, audiences: () => options.audiences ?? [AUD], groupsClaim: 'groups', clock, keys });
  return { verifier, calls, advance: (ms: number) => (now += ms), nowS: () => Math.floor(now / 1000) };
}

async function mint(nowS: number, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  // claims given here replace the defaults (undefined ones drop out of the JSON)
  return new SignJWT({ iss: ISSUER, aud: AUD, sub: 'user-1', iat: nowS, exp: nowS + 300, client_id: 'cli', scope: 'a b', ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1', ...header })
    .sign(privateKey);
}

t.test('a good JWT: principal from sub, client_id, scope as a list, groups; typ application/at+jwt too', async (t) => {
  const { verifier, nowS } = setup();
  const outcome = await verifier.verify(await mint(nowS(), { groups: ['staff'], email: 'u@example.test', email_verified: false }));
  t.ok(outcome.ok);
  if (!outcome.ok) return;
  t.match(outcome.principal, { sub: 'user-1', clientId: 'cli', groups: ['staff'] });
  t.same(outcome.principal.claims.scope, ['a', 'b']);
  t.equal(outcome.principal.email, undefined, 'an unverified e-mail is not the principal\'s');
  t.notOk(outcome.principal.tokenId.includes('.'), 'the id is a digest, not the token');
  t.ok((await verifier.verify(await mint(nowS(), {}, { typ: 'application/at+jwt' }))).ok);
  const verified = await verifier.verify(await mint(nowS(), { email: 'u@example.test', email_verified: true }));
  t.equal(verified.ok && verified.principal.email, 'u@example.test');
});

t.test('an aud array is accepted when one of its values is', async (t) => {
  const { verifier, nowS } = setup();
  t.ok((await verifier.verify(await mint(nowS(), { aud: ['https://elsewhere.test', AUD] }))).ok);
  const none = await verifier.verify(await mint(nowS(), { aud: ['https://elsewhere.test', 'https://x.test'] }));
  t.same(none, { ok: false, description: 'token audience is not accepted' });
});

t.test('refused JWTs', async (t) => {
  const { verifier, nowS } = setup();
  const now = nowS();
  const secret = new TextEncoder().encode('a-shared-secret-that-is-32-bytes!!');
  const hs256 = await new SignJWT({ client_id: 'cli' }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'k1' })
    .setIssuer(ISSUER).setAudience(AUD).setSubject('u').setExpirationTime(now + 300).sign(secret);
  const none = new UnsecuredJWT({ client_id: 'cli', iss: ISSUER, aud: AUD, sub: 'u', exp: now + 300 }).encode();
  const { privateKey: stranger } = await generateKeyPair('ES256');
  const forged = await new SignJWT({ client_id: 'cli' }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
    .setIssuer(ISSUER).setAudience(AUD).setSubject('u').setExpirationTime(now + 300).sign(stranger);
  const noExp = await new SignJWT({ client_id: 'cli' }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
    .setIssuer(ISSUER).setAudience(AUD).setSubject('u').sign(privateKey);
  const cases: Array<[string, string, RegExp]> = [
    ['alg none', none, /algorithm|signature or format/],
    ['HS256', hs256, /algorithm/],
    ['signed by another key', forged, /signature/],
    ['missing typ (an ID token)', await mint(now, {}, { typ: undefined }), /typ must be at\+jwt/],
    ['typ JWT', await mint(now, {}, { typ: 'JWT' }), /typ must be at\+jwt/],
    ['nbf in the future', await mint(now, { nbf: now + 3600 }), /not yet valid/],
    ['expired', await mint(now - 3600), /expired/],
    ['no exp', noExp, /exp/],
    ['other issuer', await mint(now, { iss: 'https://evil.test' }), /iss/],
    ['wrong audience', await mint(now, { aud: 'https://elsewhere.test' }), /audience/],
    ['no audience', await mint(now, { aud: undefined }), /aud/],
    ['sender-constrained', await mint(now, { cnf: { jkt: 'x' } }), /sender-constrained/],
    ['malformed', 'a b', /malformed/],
    ['too long', 'a'.repeat(17 * 1024), /malformed/],
  ];
  for (const [name, token, description] of cases) {
    const outcome = await verifier.verify(token);
    t.equal(outcome.ok, false, name);
    if (!outcome.ok) {
      t.match(outcome.description, description, name);
      t.notOk(outcome.description.includes(token.slice(0, 10)), `${name}: no token content`);
    }
  }
});

t.test('a client_credentials token without sub speaks for its client (RFC 9068 §2.2)', async (t) => {
  const { verifier, nowS } = setup({
    introspection: () => ({ active: true, client_id: 'machine', iss: ISSUER, exp: nowS() + 60, token_type: 'Bearer' }),
  });
  const outcome = await verifier.verify('opaque-token-value');
  t.match(outcome, { ok: true, principal: { sub: 'machine', clientId: 'machine' } });
});

t.test('introspection: active required, token_type Bearer, iss and aud checked when present', async (t) => {
  const { verifier, nowS } = setup({
    introspection: (token) =>
      ({
        inactive: { active: false },
        refresh: { active: true, client_id: 'c', token_type: 'refresh_token' },
        // oidc-provider's answer for a refresh token: no token_type at all
        untyped: { active: true, client_id: 'c', sub: 'u' },
        iss: { active: true, token_type: 'Bearer', client_id: 'c', iss: 'https://evil.test' },
        aud: { active: true, token_type: 'Bearer', client_id: 'c', aud: 'https://elsewhere.test' },
        expired: { active: true, token_type: 'Bearer', client_id: 'c', exp: nowS() - 3600 },
        good: { active: true, token_type: 'Bearer', sub: 'u', client_id: 'c', aud: [AUD], scope: 'x', exp: nowS() + 60 },
      })[token] ?? { active: false },
  });
  for (const [token, description] of [['inactive', /not active/], ['refresh', /not a bearer/], ['untyped', /not a bearer/], ['iss', /issuer/], ['aud', /audience/], ['expired', /expired/]] as const) {
    const outcome = await verifier.verify(token);
    t.equal(outcome.ok, false, token);
    if (!outcome.ok) t.match(outcome.description, description, token);
  }
  t.match(await verifier.verify('good'), { ok: true, principal: { sub: 'u', claims: { scope: ['x'] } } });
});

t.test('introspection answers are cached by digest, bounded by the TTL and the token exp; refusals briefly', async (t) => {
  const state = { exp: 0 };
  const { verifier, calls, advance, nowS } = setup({
    introspection: (token) => (token === 'bad' ? { active: false } : { active: true, token_type: 'Bearer', client_id: 'c', exp: state.exp }),
  });
  state.exp = nowS() + 3600;
  await verifier.verify('tok');
  await verifier.verify('tok');
  t.equal(calls.length, 1, 'second use served from the cache');
  await Promise.all([verifier.verify('other'), verifier.verify('other'), verifier.verify('other')]);
  t.equal(calls.length, 2, 'concurrent uses share one introspection');
  advance(31_000);
  await verifier.verify('tok');
  t.equal(calls.length, 3, 'asked again after 30s');

  state.exp = nowS() + 5;
  await verifier.verify('short');
  advance(6_000);
  await verifier.verify('short');
  t.equal(calls.length, 5, 'a token expiring sooner is asked about again at its exp');
  advance(30_000);
  t.same(await verifier.verify('short'), { ok: false, description: 'token expired' }, 'refused once past exp and the clock tolerance');

  await verifier.verify('bad');
  await verifier.verify('bad');
  t.equal(calls.filter((c) => c === 'bad').length, 1, 'a refusal is cached too');
  advance(11_000);
  await verifier.verify('bad');
  t.equal(calls.filter((c) => c === 'bad').length, 2, 'and asked again after 10s');
});

t.test('an IdP that cannot answer is a 503, and not cached', async (t) => {
  let fail = true;
  const { verifier, calls } = setup({
    introspection: () => {
      if (fail) throw new GatewayError('IDP_UNAVAILABLE', 'down');
      return { active: true, token_type: 'Bearer', client_id: 'c' };
    },
  });
  await t.rejects(verifier.verify('tok'), { code: 'GW_IDP_UNAVAILABLE' });
  fail = false;
  t.match(await verifier.verify('tok'), { ok: true });
  t.equal(calls.length, 2);
});

t.test('the accepted audiences are read on every use (a reload may change them)', async (t) => {
  const audiences = [AUD];
  let now = Date.UTC(2030, 0, 1);
  const verifier = createAccessTokenVerifier({
    idp: { metadata: () => ({ issuer: ISSUER }), introspect: async () => ({ active: false }) },
    audiences: () => audiences,
    groupsClaim: 'groups',
    clock: { now: () => now },
    keys,
  });
  const token = await mint(Math.floor(now / 1000));
  t.ok((await verifier.verify(token)).ok);
  audiences.splice(0, 1, 'https://renamed.test');
  t.same(await verifier.verify(token), { ok: false, description: 'token audience is not accepted' });
  now += 1;
});
