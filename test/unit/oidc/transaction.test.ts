import type { IncomingMessage } from 'node:http';
import t, { type Test } from 'tap';
import { GatewayError } from '../../../src/errors.js';
import { createTransactionCookies, type TransactionCookies } from '../../../src/oidc/transaction.js';
import type { LoginTransaction } from '../../../src/oidc/types.js';

const SECRET = 'a-test-cookie-secret-that-is-long-enough-0123456789';
const TIMEOUT = 10 * 60_000;

function setup(overrides: { secret?: string; secure?: boolean; domain?: string } = {}) {
  let now = 1_700_000_000_000;
  const clock = { now: () => now };
  const cookies = createTransactionCookies({
    cookieName: '_portcullis',
    secret: overrides.secret ?? SECRET,
    domain: overrides.domain ?? '',
    secure: overrides.secure ?? false,
    loginTimeoutMs: TIMEOUT,
    clock,
  });
  return { cookies, clock, advance: (ms: number) => (now += ms), now: () => now };
}

function tx(state: string, createdAt: number): LoginTransaction {
  return { state, nonce: `nonce-${state}`, codeVerifier: `verifier-${state}`.padEnd(43, 'v'), returnTo: `http://127.0.0.1:8080/app/${state}`, createdAt };
}

/** name=value of a Set-Cookie header */
function pair(setCookie: string): string {
  return setCookie.split(';')[0]!;
}

function request(...pairs: string[]): IncomingMessage {
  return { headers: pairs.length ? { cookie: pairs.join('; ') } : {} } as IncomingMessage;
}

async function rejectsBadCallback(t: Test, promise: Promise<unknown>, message: string) {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  t.type(error, GatewayError, message);
  t.equal((error as GatewayError).code, 'GW_BAD_CALLBACK', message);
  t.equal((error as GatewayError).status, 400, message);
}

t.test('a transaction round-trips through its cookie, once', async (t) => {
  const { cookies, now } = setup();
  const original = tx('state-one', now());
  const header = await cookies.issue(original);
  t.match(header, /^_portcullis_tx_[A-Za-z0-9_-]{12}=/);
  t.match(header, /; Path=\/\.portcullis\/callback/);
  t.match(header, /; HttpOnly/);
  t.match(header, /; SameSite=Lax/);
  t.match(header, /; Max-Age=600/);
  t.notMatch(header, /Secure/);
  t.notMatch(header, /Domain=/);
  t.notOk(header.includes('verifier-state-one') || header.includes('nonce-state-one'), 'contents are encrypted');

  const taken = await cookies.take(request(pair(header)), 'state-one');
  t.same(taken.transaction, original);
  t.ok(taken.setCookies.some((c) => c.startsWith(`${cookies.nameFor('state-one')}=;`) && c.includes('Max-Age=0')), 'its cookie is deleted');
  t.ok(taken.setCookies.every((c) => c.includes('Path=/.portcullis/callback')), 'deletion repeats the path');

  await rejectsBadCallback(t, cookies.take(request(pair(header)), 'state-one'), 'a replayed cookie is refused');
});

t.test('Secure and Domain follow the configuration', async (t) => {
  const { cookies, now } = setup({ secure: true, domain: '.example.com' });
  const header = await cookies.issue(tx('s', now()));
  t.match(header, /; Secure/);
  t.match(header, /; Domain=\.example\.com/);
});

t.test('several tabs: each transaction has its own cookie', async (t) => {
  const { cookies, now } = setup();
  const a = await cookies.issue(tx('tab-a', now()));
  const b = await cookies.issue(tx('tab-b', now()));
  t.not(pair(a).split('=')[0], pair(b).split('=')[0]);
  const both = request(pair(a), pair(b));
  const takenB = await cookies.take(both, 'tab-b');
  t.equal(takenB.transaction.returnTo, 'http://127.0.0.1:8080/app/tab-b');
  t.notOk(takenB.setCookies.some((c) => c.startsWith(`${cookies.nameFor('tab-a')}=`)), 'the other tab keeps its cookie');
  const takenA = await cookies.take(request(pair(a)), 'tab-a');
  t.equal(takenA.transaction.returnTo, 'http://127.0.0.1:8080/app/tab-a');
});

t.test('unknown, missing, oversized or mismatched state is a 400', async (t) => {
  const { cookies, now } = setup();
  const header = await cookies.issue(tx('real', now()));
  await rejectsBadCallback(t, cookies.take(request(pair(header)), 'other'), 'unknown state');
  await rejectsBadCallback(t, cookies.take(request(pair(header)), undefined), 'no state');
  await rejectsBadCallback(t, cookies.take(request(pair(header)), ''), 'empty state');
  await rejectsBadCallback(t, cookies.take(request(pair(header)), 'x'.repeat(10_000)), 'huge state');
  await rejectsBadCallback(t, cookies.take(request(), 'real'), 'no cookie at all');
  // the right cookie under another state's name: the state inside must match
  const moved = `${cookies.nameFor('other')}=${pair(header).split('=').slice(1).join('=')}`;
  await rejectsBadCallback(t, cookies.take(request(moved), 'other'), 'a transaction moved to another name');
  const taken = await cookies.take(request(pair(header)), 'real');
  t.equal(taken.transaction.state, 'real', 'the failed attempts did not consume it');
});

t.test('tampered, garbage and foreign cookies are refused', async (t) => {
  const { cookies, now } = setup();
  const header = await cookies.issue(tx('s1', now()));
  const [name, value] = [pair(header).split('=')[0]!, pair(header).slice(pair(header).indexOf('=') + 1)];
  const parts = value.split('.');
  for (let i = 0; i < parts.length; i++) {
    const spoiled = [...parts];
    const part = spoiled[i]!;
    // change the first character: the last one may only carry padding bits (same bytes)
    spoiled[i] = part.length ? `${part.startsWith('A') ? 'B' : 'A'}${part.slice(1)}` : 'AAAA';
    await rejectsBadCallback(t, cookies.take(request(`${name}=${spoiled.join('.')}`), 's1'), `part ${i} changed`);
  }
  for (const garbage of ['', 'garbage', 'a.b.c.d.e', '%%%', 'x'.repeat(20_000)]) {
    await rejectsBadCallback(t, cookies.take(request(`${name}=${garbage}`), 's1'), `garbage ${garbage.slice(0, 10)}`);
  }
  const other = setup({ secret: 'another-secret-that-is-also-long-enough-0123456789' });
  const foreign = await other.cookies.issue(tx('s2', now()));
  await rejectsBadCallback(t, cookies.take(request(pair(foreign)), 's2'), 'made with another secret');
});

t.test('a transaction expires after login_timeout', async (t) => {
  const { cookies, now, advance } = setup();
  const header = await cookies.issue(tx('slow', now()));
  advance(TIMEOUT - 1000);
  const fresh = await cookies.issue(tx('slow-2', now()));
  advance(2000);
  await rejectsBadCallback(t, cookies.take(request(pair(header)), 'slow'), 'expired');
  const taken = await cookies.take(request(pair(fresh)), 'slow-2');
  t.equal(taken.transaction.state, 'slow-2', 'a younger one still works');
});

t.test('cleanup deletes expired and broken transaction cookies and caps the pending ones', async (t) => {
  const { cookies, now, advance } = setup();
  const old = await cookies.issue(tx('old', now()));
  advance(TIMEOUT + 1000);
  const live: string[] = [];
  for (let i = 0; i < 10; i++) {
    live.push(await cookies.issue(tx(`live-${i}`, now())));
    advance(1000);
  }
  const req = request(pair(old), '_portcullis_tx_garbage=zzz', 'unrelated=1', '_portcullis=session', ...live.map(pair));
  const deletions = (await cookies.cleanup(req)).map((c) => c.split('=')[0]);
  t.ok(deletions.includes(cookies.nameFor('old')), 'expired one deleted');
  t.ok(deletions.includes('_portcullis_tx_garbage'), 'garbage one deleted');
  t.notOk(deletions.includes('unrelated') || deletions.includes('_portcullis'), 'other cookies untouched');
  t.ok(deletions.includes(cookies.nameFor('live-0')) && deletions.includes(cookies.nameFor('live-1')), 'the oldest beyond the cap go');
  t.notOk(deletions.includes(cookies.nameFor('live-9')), 'the newest stay');
  t.equal(deletions.filter((name) => name !== '_portcullis_txs').length, 4);
  t.ok(deletions.includes('_portcullis_txs'), 'and the index of pending sign-ins is rebuilt');
});

/** name → value of the cookies a browser would hold after applying Set-Cookie headers in order */
function apply(jar: Map<string, string>, setCookies: string[]): void {
  for (const header of setCookies) {
    const [pairText] = header.split(';');
    const name = pairText!.slice(0, pairText!.indexOf('='));
    if (/Max-Age=0(;|$)/.test(header)) jar.delete(name);
    else jar.set(name, pairText!.slice(name.length + 1));
  }
}

function requestFrom(jar: Map<string, string>): IncomingMessage {
  return request(...[...jar].map(([name, value]) => `${name}=${value}`));
}

t.test('begin: a new login deletes the oldest pending ones beyond the cap, in the same response', async (t) => {
  const { cookies, now, advance } = setup();
  const jar = new Map<string, string>();
  const states: string[] = [];
  let most = 0;
  for (let i = 0; i < 50; i++) {
    const state = `abandoned-${i}`;
    states.push(state);
    const setCookies = await cookies.begin(requestFrom(jar), tx(state, now()));
    t.ok(setCookies[0]!.startsWith(`${cookies.nameFor(state)}=`), 'the new transaction cookie comes first');
    apply(jar, setCookies);
    most = Math.max(most, [...jar.keys()].filter((name) => name.startsWith('_portcullis_tx_')).length);
    advance(1000);
  }
  t.equal(most, 8, 'never more than 8 pending transaction cookies');
  const held = [...jar.keys()].filter((name) => name.startsWith('_portcullis_tx_'));
  t.strictSame(held.sort(), states.slice(-8).map((s) => cookies.nameFor(s)).sort(), 'the newest 8 are the ones kept');
  const index = jar.get('_portcullis_txs');
  t.ok(index && index.split('.').length === 8, 'the index names them');
  t.notOk(index?.includes('abandoned'), 'the index holds digests, not states');

  const taken = await cookies.take(requestFrom(jar), 'abandoned-49');
  t.equal(taken.transaction.returnTo, 'http://127.0.0.1:8080/app/abandoned-49', 'the last sign-in completes');
  apply(jar, taken.setCookies);
  t.equal([...jar.keys()].filter((name) => name.startsWith('_portcullis_tx_')).length, 7, 'the others stay for their tabs');
  t.equal(jar.get('_portcullis_txs')?.split('.').length, 7, 'and the index follows');
  for (const state of states.slice(-8, -1)) {
    apply(jar, (await cookies.take(requestFrom(jar), state)).setCookies);
  }
  t.strictSame([...jar.keys()], [], 'after the last callback neither transaction cookies nor the index remain');
});

t.test('begin: the index cookie reaches every URL and follows Secure and Domain', async (t) => {
  const { cookies, now } = setup({ secure: true, domain: '.example.com' });
  const [, index] = await cookies.begin(request(), tx('s', now()));
  t.match(index, /^_portcullis_txs=[A-Za-z0-9_-]{12}~[0-9a-z]+; Path=\/; Domain=\.example\.com; Max-Age=600; /);
  t.match(index, /; HttpOnly; Secure; SameSite=Lax$/);
});

t.test('begin: long return addresses are bounded by bytes as well as by count', async (t) => {
  const { cookies, now, advance } = setup();
  const jar = new Map<string, string>();
  for (let i = 0; i < 20; i++) {
    const long = { ...tx(`long-${i}`, now()), returnTo: `http://127.0.0.1:8080/app/${'x'.repeat(1900)}` };
    apply(jar, await cookies.begin(requestFrom(jar), long));
    const bytes = [...jar].filter(([name]) => name.startsWith('_portcullis_tx_')).reduce((n, [name, value]) => n + name.length + value.length + 2, 0);
    t.ok(bytes <= 8 * 1024, `pending transaction cookies stay within 8 KiB (${bytes} bytes)`);
    advance(1000);
  }
});

t.test('begin: a garbage or hostile index cannot make it misbehave', async (t) => {
  const { cookies, now } = setup();
  for (const value of ['', 'garbage', '%%%', 'a~b.c~d', `${'A'.repeat(12)}~zzzz.`.repeat(200), '_portcullis~1']) {
    const setCookies = await cookies.begin(request(`_portcullis_txs=${value}`), tx('fresh', now()));
    t.ok(setCookies.length >= 2 && setCookies.length <= 9, `bounded output for ${JSON.stringify(value.slice(0, 20))}`);
    t.ok(setCookies.every((c) => c.startsWith('_portcullis_tx_') || c.startsWith('_portcullis_txs=')), 'only its own cookies');
  }
  const session = await cookies.begin(request('_portcullis=session-id; _portcullis_txs=' + `${'B'.repeat(12)}~g`), tx('x', now()));
  t.notOk(session.some((c) => c.startsWith('_portcullis=')), 'never the session cookie');
});

t.test('the same state cannot be consumed twice even with concurrent callbacks', async (t) => {
  const { cookies, now } = setup();
  const header = await cookies.issue(tx('race', now()));
  const results = await Promise.allSettled([
    cookies.take(request(pair(header)), 'race'),
    cookies.take(request(pair(header)), 'race'),
  ]);
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
});
