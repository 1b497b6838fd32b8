import fc from 'fast-check';
import t from 'tap';
import { startStack, type Stack } from '../support/stack.js';
import { requestTarget } from './arbitraries.js';
import { checkProperty, getRequest, json, rawRequest, runs, startFuzzFile } from './harness.js';
import { deniedReading } from './path-oracle.js';

/**
 * Request targets through a real gateway to a real upstream. The policy allows any signed-in
 * user except under /docs/secret and /admin. For every generated target: the answer is never a
 * 5xx or a hang, and no path the upstream receives can be read — by any common upstream's
 * parser — as one under a denied prefix. Without a session nothing reaches the upstream at all.
 */
const DENIED = ['/docs/secret', '/admin'];
const { seed, sent } = startFuzzFile(t);

let stack: Stack;
let host: string;
let port: number;
let cookie: string;

t.before(async () => {
  stack = await startStack({
    policiesDir: 'security-policies',
    routes: ({ url, upstream }) => [{ from: url, to: upstream.url, policy: 'deny-secrets' }],
  });
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'fuzzer');
  cookie = `_portcullis=${browser.cookie('_portcullis')}`;
  host = new URL(stack.url).host;
  port = Number(new URL(stack.url).port);
});
t.teardown(() => stack?.close());

t.test('the oracle itself reads the known confusions as denied (else the fuzz proves nothing)', async (t) => {
  for (const [target, reading] of [
    ['/docs;x/secret/k', '/docs/secret/k'],
    ['/ADMIN', '/admin'],
    ['/docs/secret#x', '/docs/secret'],
    ['/x/%2e%2e/admin', '/admin'],
    ['/docs%2Fsecret', '/docs/secret'],
    ['/x\\..\\admin', '/admin'],
    ['/admin;jsessionid=1', '/admin'],
  ] as const) {
    t.equal(deniedReading(target, DENIED), reading, target);
  }
  for (const target of ['/ok', '/docs/secretary', '/admins', '/docs/public?x=/admin', '/x#/../admin']) t.equal(deniedReading(target, DENIED), undefined, target);
});

const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'OPTIONS', 'DELETE'] as const;

function request(method: string, target: string, headers: string[]): string {
  const extra = method === 'POST' ? ['Content-Length: 0'] : [];
  return getRequest(target, host, [...headers, ...extra]).replace(/^GET /, `${method} `);
}

/** Targets go in batches sent at once: the fuzz gets through thousands in a few seconds. */
const BATCH = 8;

async function checkBatch(targets: readonly string[], send: (target: string) => Promise<{ status: number; body: string }>, signedIn: boolean) {
  stack.upstream.requests.length = 0;
  sent.add(targets.length);
  const answers = await Promise.all(targets.map(async (target) => ({ target, res: await send(target) })));
  for (const { target, res } of answers) {
    if (res.status >= 500) throw new Error(`status ${res.status} for ${JSON.stringify(target)}: ${res.body.slice(0, 300)}`);
    // whatever the upstream answered, it answered to the gateway's identity
    const echoed = json(res.body);
    if (signedIn && res.status < 300 && echoed?.headers && echoed.headers['x-portcullis-user'] !== 'fuzzer') {
      throw new Error(`${JSON.stringify(target)} reached the upstream without the signed-in identity`);
    }
  }
  for (const received of stack.upstream.requests) {
    if (!signedIn) throw new Error(`a target reached the upstream without a session: ${JSON.stringify(received.url)} (batch ${JSON.stringify(targets)})`);
    const denied = deniedReading(received.url, DENIED);
    if (denied !== undefined) {
      throw new Error(`the upstream received ${JSON.stringify(received.url)}, which reads as ${denied} (batch ${JSON.stringify(targets)})`);
    }
  }
}

t.test('signed in: no target reaches the upstream under a denied prefix, and none is a 5xx', async (t) => {
  const one = fc.tuple(requestTarget, fc.constantFrom(...METHODS), fc.boolean());
  const property = fc.asyncProperty(fc.array(one, { minLength: 1, maxLength: BATCH }), async (cases) => {
    const byTarget = new Map(cases.map(([target, method, html]) => [target, { method, html }]));
    await checkBatch([...byTarget.keys()], (target) => {
      const { method, html } = byTarget.get(target)!;
      const accept = html ? 'Accept: text/html' : 'Accept: application/json';
      return rawRequest(port, request(method, target, [accept, `Cookie: ${cookie}`]));
    }, true);
  });
  await checkProperty(t, 'request targets (signed in), batches of up to 8', property, { seed, numRuns: runs(400) });
});

t.test('signed out: nothing reaches the upstream, and nothing is a 5xx', async (t) => {
  const one = fc.tuple(requestTarget, fc.boolean());
  const property = fc.asyncProperty(fc.array(one, { minLength: 1, maxLength: BATCH }), async (cases) => {
    const html = new Map(cases);
    await checkBatch([...html.keys()], (target) => {
      const accept = html.get(target) ? 'Accept: text/html' : 'Accept: application/json';
      return rawRequest(port, request('GET', target, [accept]));
    }, false);
  });
  await checkProperty(t, 'request targets (signed out), batches of up to 8', property, { seed: seed + 1, numRuns: runs(120) });
});

t.test('the session still works after the fuzz (nothing broke it)', async (t) => {
  const res = await rawRequest(port, getRequest('/after', host, ['Accept: application/json', `Cookie: ${cookie}`]));
  t.equal(res.status, 200);
  t.equal(json(res.body)?.headers?.['x-portcullis-user'], 'fuzzer');
});
