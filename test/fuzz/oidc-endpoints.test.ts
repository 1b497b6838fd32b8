import fc from 'fast-check';
import { CompactSign, generateKeyPair } from 'jose';
import t from 'tap';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/oidc/logout-token.js';
import { startStack, type Stack } from '../support/stack.js';
import { TEST_CLIENT_ID } from '../support/idp.js';
import { checkProperty, getRequest, json, rawRequest, runs, startFuzzFile } from './harness.js';

/**
 * The sign-in callback and the back-channel logout receiver, fed garbage through a real gateway
 * and a real IdP. Never a 5xx or a hang; a garbage callback never yields a session cookie; no
 * forged logout token is accepted (the signed-in session survives the whole fuzz).
 */
const { seed, sent } = startFuzzFile(t);

let stack: Stack;
let host: string;
let port: number;
let cookie: string;
let idpKid: string | undefined;

t.before(async () => {
  stack = await startStack({ policiesDir: 'security-policies', routes: ({ url, upstream }) => [{ from: url, to: upstream.url, policy: 'everyone' }] });
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'fuzzer');
  cookie = `_portcullis=${browser.cookie('_portcullis')}`;
  host = new URL(stack.url).host;
  port = Number(new URL(stack.url).port);
  const discovery = (await (await fetch(`${stack.issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
  const jwks = (await (await fetch(discovery.jwks_uri)).json()) as { keys: { kid?: string }[] };
  idpKid = jwks.keys[0]?.kid;
});
t.teardown(() => stack?.close());

const BATCH = 8;
const text = fc.oneof(
  fc.constantFrom('', 'x', 'null', '[]', '{}', '%', '%00', '%zz', '../', 'a'.repeat(3000), '<script>', 'é', '\u0000'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** A real login transaction (its state and cookie), started the way a browser starts one. */
async function startTransaction(): Promise<{ state: string; txCookie: string }> {
  const res = await rawRequest(port, getRequest('/start', host, ['Accept: text/html']));
  const location = new URL(res.headers.get('location')?.[0] ?? '');
  const setCookie = res.headers.get('set-cookie')?.find((c) => c.startsWith('_portcullis_tx_')) ?? '';
  return { state: location.searchParams.get('state') ?? '', txCookie: setCookie.split(';')[0]! };
}

t.test('callback parameters', async (t) => {
  const oneCase = fc.record({
    code: fc.option(text, { nil: undefined }),
    state: fc.option(fc.oneof(fc.constant('REAL'), fc.constant('REAL REAL'), text), { nil: undefined }),
    iss: fc.option(fc.oneof(fc.constant('ISSUER'), text), { nil: undefined }),
    error: fc.option(fc.oneof(fc.constantFrom('access_denied', 'login_required', 'server_error', 'temporarily_unavailable', 'interaction_required'), text), { nil: undefined }),
    extra: fc.array(fc.tuple(text, text), { maxLength: 3 }),
    cookie: fc.constantFrom('tx', 'none', 'damaged', 'tx+session', 'session'),
    rawQuery: fc.boolean(),
  });
  const property = fc.asyncProperty(fc.array(oneCase, { minLength: 1, maxLength: BATCH }), async (cases) => {
    sent.add(cases.length);
    const results = await Promise.all(
      cases.map(async (c) => {
        const tx = await startTransaction();
        const params: [string, string][] = [];
        const fill = (v: string) => v.replaceAll('REAL', tx.state).replace('ISSUER', stack.issuer);
        if (c.code !== undefined) params.push(['code', c.code]);
        if (c.state !== undefined) params.push(['state', fill(c.state)]);
        if (c.iss !== undefined) params.push(['iss', fill(c.iss)]);
        if (c.error !== undefined) params.push(['error', c.error]);
        params.push(...c.extra);
        // raw: the query as typed (the parser must cope); otherwise properly encoded
        const query = c.rawQuery
          ? params.map(([k, v]) => `${k}=${v}`).join('&').replace(/[\r\n ]/g, '')
          : new URLSearchParams(params).toString();
        const cookies = [
          c.cookie.includes('tx') ? tx.txCookie : '',
          c.cookie === 'damaged' ? `${tx.txCookie.slice(0, -3)}xyz` : '',
          c.cookie.includes('session') ? cookie : '',
        ].filter(Boolean);
        const lines = ['Accept: text/html', ...(cookies.length ? [`Cookie: ${cookies.join('; ')}`] : [])];
        const res = await rawRequest(port, getRequest(`/.portcullis/callback?${query}`, host, lines), 10_000);
        return { query, c, res };
      }),
    );
    for (const { query, c, res } of results) {
      // the IdP's own "try later", returned with the state of a sign-in this browser started, may be a 503
      const genuineIdpError = c.state === 'REAL' && c.cookie.includes('tx') && (c.error === 'server_error' || c.error === 'temporarily_unavailable');
      if (res.status === 503 && genuineIdpError) continue;
      if (res.status >= 500) throw new Error(`status ${res.status} for /.portcullis/callback?${query} (cookie: ${c.cookie}): ${res.body.slice(0, 300)}`);
      const minted = res.headers.get('set-cookie')?.find((v) => /^_portcullis=[^;]+/.test(v));
      if (minted) throw new Error(`a garbage callback issued a session cookie: /.portcullis/callback?${query}`);
    }
  });
  await checkProperty(t, 'callback parameters, batches of up to 8', property, { seed, numRuns: runs(100) });
});

const keys = await Promise.all([generateKeyPair('RS256'), generateKeyPair('ES256')]);

/** Logout tokens: well-formed and signed, but by a key that is not the IdP's, with fuzzed claims. */
function forgedToken(): fc.Arbitrary<Promise<string>> {
  const claims = fc.record(
    {
      iss: fc.oneof(fc.constant('ISSUER'), text),
      aud: fc.oneof(fc.constant(TEST_CLIENT_ID), fc.constant([TEST_CLIENT_ID, 'x']), text),
      iat: fc.oneof(fc.constant('NOW'), fc.integer(), fc.double(), text),
      exp: fc.oneof(fc.constant('LATER'), fc.integer(), text),
      jti: fc.oneof(fc.uuid(), text),
      sub: fc.oneof(fc.constant('fuzzer'), text),
      sid: text,
      nonce: text,
      events: fc.oneof(fc.constant({ [BACKCHANNEL_LOGOUT_EVENT]: {} }), fc.constant([BACKCHANNEL_LOGOUT_EVENT]), text),
    },
    { requiredKeys: [] },
  );
  const header = fc.record({
    alg: fc.constantFrom('RS256', 'ES256'),
    kid: fc.oneof(fc.constant('IDP'), text),
    typ: fc.option(fc.constantFrom('logout+jwt', 'JWT', 'at+jwt', 'x'), { nil: undefined }),
  });
  return fc.tuple(claims, header).map(async ([c, h]) => {
    const now = Math.floor(Date.now() / 1000);
    const payload = Object.fromEntries(
      Object.entries(c).map(([k, v]) => [k, v === 'ISSUER' ? stack.issuer : v === 'NOW' ? now : v === 'LATER' ? now + 120 : v]),
    );
    const key = h.alg === 'RS256' ? keys[0].privateKey : keys[1].privateKey;
    const protectedHeader = { alg: h.alg, kid: h.kid === 'IDP' ? idpKid : h.kid, ...(h.typ ? { typ: h.typ } : {}) };
    // CompactSign, not SignJWT: the claims are meant to be wrong (SignJWT refuses a non-numeric iat)
    return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(protectedHeader).sign(key);
  });
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

const structuralToken: fc.Arbitrary<Promise<string>> = fc
  .oneof(
    text,
    fc.array(fc.oneof(text, fc.base64String({ maxLength: 40 })), { maxLength: 6 }).map((parts) => parts.join('.')),
    fc.record({ alg: fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'x', ''), kid: text }).map(
      (h) => `${b64(h)}.${b64({ iss: 'x', aud: TEST_CLIENT_ID, sub: 'fuzzer', events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })}.`,
    ),
    fc.tuple(text, text, text).map(([a, b, c]) => `${b64(a)}.${b64(b)}.${b64(c)}`),
  )
  .map(async (token) => token);

t.test('back-channel logout tokens', async (t) => {
  const oneCase = fc.record({
    token: fc.oneof(forgedToken(), structuralToken),
    contentType: fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/json', 'text/plain', '', 'multipart/form-data; boundary=x'),
    shape: fc.constantFrom('form', 'form', 'twice', 'json', 'raw', 'empty'),
    chunked: fc.boolean(),
  });
  const property = fc.asyncProperty(fc.array(oneCase, { minLength: 1, maxLength: BATCH }), async (cases) => {
    sent.add(cases.length);
    const results = await Promise.all(
      cases.map(async (c) => {
        const token = await c.token;
        const body =
          c.shape === 'form' ? `logout_token=${encodeURIComponent(token)}`
          : c.shape === 'twice' ? `logout_token=${encodeURIComponent(token)}&logout_token=x`
          : c.shape === 'json' ? JSON.stringify({ logout_token: token })
          : c.shape === 'raw' ? token
          : '';
        const bytes = Buffer.from(body);
        const framing = c.chunked
          ? ['Transfer-Encoding: chunked']
          : [`Content-Length: ${bytes.length}`];
        const head = [
          'POST /.portcullis/backchannel-logout HTTP/1.1',
          `Host: ${host}`,
          ...(c.contentType ? [`Content-Type: ${c.contentType}`] : []),
          ...framing,
          'Connection: close',
          '',
          '',
        ].join('\r\n');
        const payload = c.chunked
          ? Buffer.concat([Buffer.from(bytes.length ? `${bytes.length.toString(16)}\r\n` : ''), bytes, Buffer.from(bytes.length ? '\r\n0\r\n\r\n' : '0\r\n\r\n')])
          : bytes;
        const res = await rawRequest(port, Buffer.concat([Buffer.from(head), payload]), 10_000);
        return { token, c, res };
      }),
    );
    for (const { token, c, res } of results) {
      if (res.status >= 500) throw new Error(`status ${res.status} for a ${c.shape} body (${c.contentType}): ${token.slice(0, 200)} → ${res.body.slice(0, 200)}`);
      if (res.status < 400) throw new Error(`a forged logout token was accepted (${res.status}): ${token.slice(0, 300)}`);
      if (res.headers.get('cache-control')?.[0] !== 'no-store') throw new Error('a back-channel answer without Cache-Control: no-store');
    }
  });
  await checkProperty(t, 'logout tokens, batches of up to 8', property, { seed: seed + 1, numRuns: runs(150) });
});

t.test(
  'a forged IdP error at the callback is a 4xx, not a 503',
  async (t) => {
    for (const error of ['server_error', 'temporarily_unavailable']) {
      const withoutTransaction = await rawRequest(port, getRequest(`/.portcullis/callback?error=${error}`, host, ['Accept: text/html']));
      t.equal(withoutTransaction.status, 400, `?error=${error} without a login transaction`);
      const tx = await startTransaction();
      const wrongState = await rawRequest(port, getRequest(`/.portcullis/callback?error=${error}&state=not-the-state`, host, ['Accept: text/html', `Cookie: ${tx.txCookie}`]));
      t.equal(wrongState.status, 400, `?error=${error} with a state that is not the transaction's`);
    }
  },
);

t.test('front-channel logout parameters', async (t) => {
  const oneCase = fc.record({
    iss: fc.option(fc.oneof(fc.constant('ISSUER'), text), { nil: undefined }),
    sid: fc.option(text, { nil: undefined }),
    extra: fc.array(fc.tuple(fc.constantFrom('iss', 'sid', 'x'), text), { maxLength: 3 }),
    rawQuery: fc.boolean(),
  });
  const property = fc.asyncProperty(fc.array(oneCase, { minLength: 1, maxLength: BATCH }), async (cases) => {
    sent.add(cases.length);
    const results = await Promise.all(
      cases.map(async (c) => {
        const pairs: Array<[string, string]> = [];
        if (c.iss !== undefined) pairs.push(['iss', c.iss === 'ISSUER' ? stack.issuer : c.iss]);
        if (c.sid !== undefined) pairs.push(['sid', c.sid]);
        pairs.push(...c.extra);
        // raw: the values as they are (broken percent-encoding kept; whitespace, controls and non-ASCII dropped to stay one request line)
        const query = c.rawQuery
          ? pairs.map(([k, v]) => `${k}=${v.replace(/[\s\u0000-\u001f\u007f-\uffff#]/g, '')}`).join('&')
          : new URLSearchParams(pairs).toString();
        // no session cookie: a request without iss and sid would (rightly) end the fuzzer's session
        const res = await rawRequest(port, getRequest(`/.portcullis/frontchannel-logout?${query}`, host, ['Accept: text/html']), 10_000);
        return { query, res };
      }),
    );
    for (const { query, res } of results) {
      if (res.status >= 500) throw new Error(`status ${res.status} for ?${query.slice(0, 200)} → ${res.body.slice(0, 200)}`);
      if (res.status !== 200 && res.status !== 400) throw new Error(`status ${res.status} for ?${query.slice(0, 200)}`);
      if (res.headers.get('cache-control')?.[0] !== 'no-store') throw new Error('a front-channel answer without Cache-Control: no-store');
    }
  });
  await checkProperty(t, 'front-channel queries, batches of up to 8', property, { seed: seed + 2, numRuns: runs(100) });
});

t.test('the signed-in session survived every forged logout token and front-channel request', async (t) => {
  const res = await rawRequest(port, getRequest('/after', host, ['Accept: application/json', `Cookie: ${cookie}`]));
  t.equal(res.status, 200);
  t.equal(json(res.body)?.headers?.['x-portcullis-user'], 'fuzzer');
});
