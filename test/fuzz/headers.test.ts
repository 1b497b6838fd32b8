import fc from 'fast-check';
import t from 'tap';
import type { RecordedRequest } from '../support/upstream.js';
import { startStack, type Stack } from '../support/stack.js';
import { headerName, headerValue } from './arbitraries.js';
import { checkProperty, getRequest, rawRequest, runs, startFuzzFile } from './harness.js';

/**
 * Header names, header values and Cookie headers through real gateways to a real upstream.
 * Replica 0 trusts no forwarding headers; replica 1 trusts them (as behind a load balancer).
 * Whatever a client sends: never a 5xx or a hang; the upstream sees the gateway's identity and
 * forwarding headers only (no client header equal to one of them up to case and '_'/'-'), never
 * the session cookie, and with preserve_host the host the route matched on.
 */
const { seed, sent } = startFuzzFile(t);

let stack: Stack;
const replicas: { host: string; port: number; cookieValue: string }[] = [];

t.before(async () => {
  let index = 0;
  stack = await startStack({
    replicas: 2,
    policiesDir: 'security-policies',
    config: () => (index++ === 0 ? {} : { server: { trust_forwarded_headers: true } }),
    routes: ({ url, upstream }) => [
      { from: url, to: upstream.url, policy: 'everyone' },
      { from: `${url}/ph`, to: upstream.url, policy: 'everyone', preserve_host: true },
    ],
  });
  for (const replica of stack.replicas) {
    const browser = stack.browser();
    await browser.login(`${replica.url}/`, 'fuzzer');
    const url = new URL(replica.url);
    replicas.push({ host: url.host, port: Number(url.port), cookieValue: browser.cookie('_portcullis')! });
  }
});
t.teardown(() => stack?.close());

/** Names the gateway sets or strips; a client header equal to one up to case and '_'/'-' must not pass. */
const OWN_NAMES = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'forwarded', 'x-real-ip']);
function isOwnName(name: string): boolean {
  const canonical = name.toLowerCase().replaceAll('_', '-');
  return OWN_NAMES.has(canonical) || canonical.startsWith('x-portcullis-') || canonical.startsWith('x-forwarded-');
}

function sessionCookiePairs(cookieHeader: string | string[] | undefined): string[] {
  const text = Array.isArray(cookieHeader) ? cookieHeader.join('; ') : cookieHeader ?? '';
  return text.split(';').filter((pair) => pair.split('=')[0]!.trim() === '_portcullis');
}

/** What the untrusting replica must have forwarded, whatever the client added. */
function checkForwarded(received: RecordedRequest, replica: (typeof replicas)[number], preserveHost: boolean): string | undefined {
  const h = received.headers;
  if (h['x-portcullis-user'] !== 'fuzzer') return `x-portcullis-user is ${JSON.stringify(h['x-portcullis-user'])}`;
  if (h['x-portcullis-groups'] !== 'staff') return `x-portcullis-groups is ${JSON.stringify(h['x-portcullis-groups'])}`;
  if (h['x-portcullis-email'] !== 'fuzzer@example.com') return `x-portcullis-email is ${JSON.stringify(h['x-portcullis-email'])}`;
  const spoofed = Object.keys(h).filter((name) => isOwnName(name) && name !== name.replaceAll('_', '-'));
  if (spoofed.length) return `a client header passed under a gateway header's name: ${spoofed.join(', ')}`;
  const extraIdentity = Object.keys(h).filter((n) => n.startsWith('x-portcullis-') && !['x-portcullis-user', 'x-portcullis-groups', 'x-portcullis-email', 'x-portcullis-jwt-assertion'].includes(n));
  if (extraIdentity.length) return `client X-Portcullis-* headers reached the upstream: ${extraIdentity.join(', ')}`;
  if (h['x-forwarded-for'] !== '127.0.0.1') return `x-forwarded-for is ${JSON.stringify(h['x-forwarded-for'])}`;
  if (h['x-forwarded-proto'] !== 'http') return `x-forwarded-proto is ${JSON.stringify(h['x-forwarded-proto'])}`;
  if (h['x-forwarded-host'] !== replica.host) return `x-forwarded-host is ${JSON.stringify(h['x-forwarded-host'])}`;
  if (h.forwarded !== undefined || h['x-real-ip'] !== undefined) return 'an untrusted Forwarded / X-Real-IP reached the upstream';
  const wantHost = preserveHost ? replica.host : new URL(stack.upstream.url).host;
  if (String(h.host).toLowerCase() !== wantHost) return `host is ${JSON.stringify(h.host)}, expected ${wantHost}`;
  if (sessionCookiePairs(h.cookie).length) return `the session cookie reached the upstream: ${JSON.stringify(h.cookie)}`;
  return undefined;
}

const BATCH = 8;

/** Sends each case to its own path (/h/N or /ph/N) so every upstream record maps back to its case. */
async function sendBatch(replica: (typeof replicas)[number], cases: { preserveHost: boolean; lines: string[] }[]) {
  stack.upstream.requests.length = 0;
  sent.add(cases.length);
  const answers = await Promise.all(
    cases.map(async (c, i) => {
      const target = `${c.preserveHost ? '/ph' : '/h'}/case-${i}`;
      const res = await rawRequest(replica.port, getRequest(target, replica.host, c.lines));
      return { target, res, c };
    }),
  );
  for (const { target, res, c } of answers) {
    if (res.status >= 500) throw new Error(`status ${res.status} for headers ${JSON.stringify(c.lines)}: ${res.body.slice(0, 200)}`);
    if (res.headers.get('set-cookie')?.some((v) => /^\s*_portcullis=[^;]+/.test(v) && !/max-age=0/i.test(v))) {
      // a fresh session cookie would mean a header could mint a session (renewal does not happen here)
      throw new Error(`headers ${JSON.stringify(c.lines)} were answered with a new session cookie`);
    }
    void target;
  }
  return answers;
}

function receivedFor(target: string): RecordedRequest | undefined {
  return stack.upstream.requests.find((r) => r.url === target);
}

t.test('header names and values (untrusted replica)', async (t) => {
  const r = () => replicas[0]!;
  const oneCase = fc.record({
    preserveHost: fc.boolean(),
    headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
    sep: fc.constantFrom(': ', ':', ' : ', ':\t'),
  });
  const property = fc.asyncProperty(fc.array(oneCase, { minLength: 1, maxLength: BATCH }), async (cases) => {
    const built = cases.map((c) => ({
      preserveHost: c.preserveHost,
      lines: ['Accept: application/json', ...c.headers.map(([n, v]) => `${n}${c.sep}${v}`), `Cookie: _portcullis=${r().cookieValue}`],
    }));
    const answers = await sendBatch(r(), built);
    for (const { target, c } of answers) {
      const received = receivedFor(target);
      if (!received) continue; // refused (4xx) before the upstream: fine
      const problem = checkForwarded(received, r(), c.preserveHost);
      if (problem) throw new Error(`${problem} — headers sent: ${JSON.stringify(c.lines)}`);
    }
  });
  await checkProperty(t, 'header names and values, batches of up to 8', property, { seed, numRuns: runs(150) });
});

t.test('forwarding headers (trusting replica): preserve_host sends the host the route matched on', async (t) => {
  const r = () => replicas[1]!;
  const hostValue = fc.oneof(
    fc.constant('OWN'),
    fc.constantFrom('evil.example', 'evil.example:80', '127.0.0.1', 'localhost', 'OWN, evil.example', 'evil.example, OWN', 'OWN_UPPER', ''),
    fc.string({ maxLength: 20 }),
  );
  const oneCase = fc.record({ host: hostValue, forwardedHost: fc.option(hostValue, { nil: undefined }), proto: fc.option(fc.constantFrom('https', 'http', 'gopher', 'https, http'), { nil: undefined }) });
  const property = fc.asyncProperty(fc.array(oneCase, { minLength: 1, maxLength: BATCH }), async (cases) => {
    const fill = (v: string) => v.replace('OWN_UPPER', r().host.toUpperCase()).replace('OWN', r().host);
    stack.upstream.requests.length = 0;
    sent.add(cases.length);
    const answers = await Promise.all(
      cases.map(async (c, i) => {
        const target = `/ph/case-${i}`;
        const lines = ['Accept: application/json', `Cookie: _portcullis=${r().cookieValue}`];
        if (c.forwardedHost !== undefined) lines.push(`X-Forwarded-Host: ${fill(c.forwardedHost)}`);
        if (c.proto !== undefined) lines.push(`X-Forwarded-Proto: ${c.proto}`);
        const request = [`GET ${target} HTTP/1.1`, `Host: ${fill(c.host)}`, ...lines, 'Connection: close', '', ''].join('\r\n');
        return { target, lines: [`Host: ${fill(c.host)}`, ...lines], res: await rawRequest(r().port, request) };
      }),
    );
    for (const { target, lines, res } of answers) {
      if (res.status >= 500) throw new Error(`status ${res.status} for ${JSON.stringify(lines)}`);
      const received = receivedFor(target);
      if (!received) continue;
      if (String(received.headers.host).toLowerCase() !== r().host) {
        throw new Error(`the route matched on ${r().host} but the upstream got Host ${JSON.stringify(received.headers.host)} — headers sent: ${JSON.stringify(lines)}`);
      }
      if (sessionCookiePairs(received.headers.cookie).length) throw new Error('the session cookie reached the upstream');
    }
  });
  await checkProperty(t, 'Host / X-Forwarded-Host / X-Forwarded-Proto, batches of up to 8', property, { seed: seed + 1, numRuns: runs(80) });
});

/** Cookie headers built from the real session cookie, damaged copies of it, and noise. */
function cookiePiece(valid: string): fc.Arbitrary<string> {
  const damaged = fc
    .tuple(fc.nat({ max: Math.max(0, valid.length - 1) }), fc.constantFrom('flip', 'cut', 'append', 'insert'), fc.string({ minLength: 1, maxLength: 3 }))
    .map(([at, how, noise]) => {
      if (how === 'cut') return valid.slice(0, at);
      if (how === 'append') return valid + noise;
      if (how === 'insert') return valid.slice(0, at) + noise + valid.slice(at);
      const ch = valid[at] === 'A' ? 'B' : 'A';
      return valid.slice(0, at) + ch + valid.slice(at + 1);
    });
  return fc.oneof(
    fc.constant(`_portcullis=${valid}`),
    fc.constant(`_portcullis="${valid}"`),
    damaged.map((v) => `_portcullis=${v}`),
    fc.constantFrom('_portcullis=', '_portcullis', '_portcullis=""', ' _portcullis =x', '_PORTCULLIS=x', '_portcullis_tx_abc=x', 'theme=dark', '=x', ';', ',', 'a=b=c'),
    fc.string({ maxLength: 30 }).map((v) => `_portcullis=${v}`),
    fc.string({ unit: 'binary', maxLength: 30 }),
  );
}

t.test('Cookie headers: only the real session cookie signs in, and it never reaches the upstream', async (t) => {
  const r = () => replicas[0]!;
  const oneCase = fc.record({
    pieces: fc.array(cookiePiece(r().cookieValue), { minLength: 1, maxLength: 4 }),
    sep: fc.constantFrom('; ', ';', ', ', ' ;'),
    twoHeaders: fc.boolean(),
  });
  const property = fc.asyncProperty(fc.array(oneCase, { minLength: 1, maxLength: BATCH }), async (cases) => {
    const built = cases.map((c) => ({
      preserveHost: false,
      lines: [
        'Accept: application/json',
        ...(c.twoHeaders && c.pieces.length > 1
          ? [`Cookie: ${c.pieces[0]}`, `Cookie: ${c.pieces.slice(1).join(c.sep)}`]
          : [`Cookie: ${c.pieces.join(c.sep)}`]),
      ],
    }));
    const answers = await sendBatch(r(), built);
    for (const { target, c, res } of answers) {
      const received = receivedFor(target);
      if (!received) {
        if (res.status !== 401 && res.status !== 400 && res.status !== 431) throw new Error(`status ${res.status} for ${JSON.stringify(c.lines)}`);
        continue;
      }
      if (received.headers['x-portcullis-user'] !== 'fuzzer') throw new Error(`reached the upstream as ${JSON.stringify(received.headers['x-portcullis-user'])}: ${JSON.stringify(c.lines)}`);
      if (!c.lines.join('\n').includes(r().cookieValue)) throw new Error(`signed in without the real session cookie: ${JSON.stringify(c.lines)}`);
      const leaked = sessionCookiePairs(received.headers.cookie);
      if (leaked.length) throw new Error(`the session cookie reached the upstream (${JSON.stringify(received.headers.cookie)}) for ${JSON.stringify(c.lines)}`);
    }
  });
  await checkProperty(t, 'Cookie headers, batches of up to 8', property, { seed: seed + 2, numRuns: runs(150) });
});
