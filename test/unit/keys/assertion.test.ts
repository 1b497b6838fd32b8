import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import t from 'tap';
import { createAssertionMinter, type AssertionSubject } from '../../../src/keys/assertion.js';
import { createKeyManager } from '../../../src/keys/key-manager.js';
import { createMemoryKeyStore } from '../../../src/keys/memory-key-store.js';
import { generateStoredKey } from '../../../src/keys/key-material.js';
import { createLogger } from '../../../src/observability/logger.js';
import { GatewayError } from '../../../src/errors.js';

const TTL = 300_000;
const T0 = Date.UTC(2030, 0, 1);
const ISSUER = 'https://gw.example.com';
const AUD = 'http://app.internal:3000';

async function setup(t: { teardown(fn: () => unknown): void }) {
  const clock = { time: T0, now() { return this.time; } };
  const store = createMemoryKeyStore();
  const keyManager = createKeyManager({
    store, clock, logger: createLogger({ level: 'silent' }), publishAheadMs: 120_000, rotateEveryMs: 86_400_000, assertionTtlMs: TTL,
  });
  t.teardown(() => keyManager.close());
  await keyManager.start();
  const minter = createAssertionMinter({ keyManager, issuer: ISSUER, ttlMs: TTL, clock });
  const jwks = () => createLocalJWKSet(JSON.parse(keyManager.jwks()!.body));
  return { clock, store, keyManager, minter, jwks };
}

const alice: AssertionSubject = { handle: 'h-alice', user: { sub: 'alice', email: 'alice@example.com', groups: ['staff', 'eng'] } };

t.test('claims and header; verifies against the published JWKS', async (t) => {
  const { clock, keyManager, minter, jwks } = await setup(t);
  const token = await minter.mint(alice, AUD);
  const header = decodeProtectedHeader(token);
  t.same(header, { alg: 'ES256', kid: keyManager.signingKey()!.kid, typ: 'JWT' });
  const { payload } = await jwtVerify(token, jwks(), { issuer: ISSUER, audience: AUD, currentDate: new Date(clock.time) });
  t.same(payload, {
    iss: ISSUER,
    aud: AUD,
    sub: 'alice',
    email: 'alice@example.com',
    groups: ['staff', 'eng'],
    sid: 'h-alice',
    iat: T0 / 1000,
    exp: T0 / 1000 + TTL / 1000,
  });
  const noEmail = await minter.mint({ handle: 'h-bob', user: { sub: 'bob', groups: [] } }, AUD);
  const bob = await jwtVerify(noEmail, jwks(), { currentDate: new Date(clock.time) });
  t.notOk('email' in bob.payload, 'no email claim when the session has none');
  t.same(bob.payload.groups, []);
});

t.test('the cache: a hit is a plain string (no signing); renewed after half the ttl', async (t) => {
  const { clock, minter } = await setup(t);
  const first = await minter.mint(alice, AUD);
  const hit = minter.mint(alice, AUD);
  t.equal(typeof hit, 'string', 'no promise on a hit');
  t.equal(hit, first);
  t.not(await minter.mint(alice, 'http://other:1'), first, 'one per audience');
  t.not(await minter.mint({ ...alice, handle: 'h-other' }, AUD), first, 'one per session');

  clock.time = T0 + TTL / 2 - 1;
  t.equal(minter.mint(alice, AUD), first, 'still more than half its life left');
  clock.time = T0 + TTL / 2;
  const renewed = minter.mint(alice, AUD);
  t.not(typeof renewed, 'string', 'half-way: signed again');
  t.not(await renewed, first);
});

t.test('concurrent misses share one signature', async (t) => {
  const { minter } = await setup(t);
  const a = minter.mint(alice, AUD);
  const b = minter.mint(alice, AUD);
  t.equal(a, b, 'the same promise');
  t.equal(await a, await b);
});

t.test('changed identity or a new signing key: signed again', async (t) => {
  const { clock, store, keyManager, minter } = await setup(t);
  const first = await minter.mint(alice, AUD);
  const regrouped = await minter.mint({ ...alice, user: { ...alice.user, groups: ['staff'] } }, AUD);
  t.not(regrouped, first, 'groups changed');

  const next = await generateStoredKey(clock.time, clock.time + 1000);
  await store.add(next);
  await keyManager.sync();
  t.equal(minter.mint({ ...alice, user: { ...alice.user, groups: ['staff'] } }, AUD), regrouped, 'pre-published key: the cache holds');
  clock.time += 1000;
  const resigned = await minter.mint({ ...alice, user: { ...alice.user, groups: ['staff'] } }, AUD);
  t.equal(decodeProtectedHeader(resigned).kid, next.kid, 'the new key signs as soon as it is active');
});

t.test('no signing key yet: a clear 503, not an unsigned request', async (t) => {
  const minter = createAssertionMinter({ keyManager: { signingKey: () => undefined }, issuer: ISSUER, ttlMs: TTL, clock: { now: () => T0 } });
  let thrown: unknown;
  try {
    minter.mint(alice, AUD);
  } catch (error) {
    thrown = error;
  }
  t.ok(thrown instanceof GatewayError);
  t.equal((thrown as GatewayError).status, 503);
});
