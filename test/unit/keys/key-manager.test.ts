import t from 'tap';
import { generateStoredKey } from '../../../src/keys/key-material.js';
import { createKeyManager, type KeyManagerDeps } from '../../../src/keys/key-manager.js';
import { createMemoryKeyStore } from '../../../src/keys/memory-key-store.js';
import type { KeyStore, StoredKey } from '../../../src/keys/types.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';

const SECOND = 1000;
const HOUR = 3_600_000;
const PUBLISH_AHEAD = 120 * SECOND;
const ROTATE_EVERY = 24 * HOUR;
const TTL = 300 * SECOND;
const MARGIN = 60 * SECOND; // the default: the JWKS max-age
const T0 = Date.UTC(2030, 0, 1);

function setup(t: { teardown(fn: () => unknown): void }, store: KeyStore = createMemoryKeyStore(), extra: Partial<KeyManagerDeps> = {}) {
  const clock = { time: T0, now() { return this.time; } };
  const metrics = createMetrics({ defaultMetrics: false });
  const manager = createKeyManager({
    store,
    clock,
    logger: createLogger({ level: 'silent' }),
    metrics,
    publishAheadMs: PUBLISH_AHEAD,
    rotateEveryMs: ROTATE_EVERY,
    assertionTtlMs: TTL,
    ...extra,
  });
  t.teardown(() => manager.close());
  const published = () => (JSON.parse(manager.jwks()?.body ?? '{"keys":[]}') as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  const gauge = async () => (await metrics.jwksKeys.get()).values[0]?.value;
  return { clock, manager, store, metrics, published, gauge };
}

async function eventually(check: () => boolean | Promise<boolean>, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('first boot: one key, signing at once, published', async (t) => {
  const { manager, store, published, gauge } = setup(t);
  t.notOk(manager.ready());
  t.equal(manager.jwks(), undefined, 'no JWKS before the store was read');
  await manager.start();
  const stored = await store.list();
  t.equal(stored.length, 1);
  t.equal(stored[0]!.activatesAt, T0, 'the first key signs at once: nothing was signed before it');
  t.equal(manager.signingKey()?.kid, stored[0]!.kid);
  t.same(published(), [stored[0]!.kid]);
  t.equal(await gauge(), 1, 'portcullis_jwks_keys');
});

t.test('two replicas booting together on one store create one key between them', async (t) => {
  const store = createMemoryKeyStore();
  const a = setup(t, store);
  const b = setup(t, store);
  await Promise.all([a.manager.start(), b.manager.start()]);
  t.equal((await store.list()).length, 1);
  t.equal(a.manager.signingKey()?.kid, b.manager.signingKey()?.kid);
});

t.test('rotation: pre-published, then signing, old key kept until its last assertion expired, then pruned', async (t) => {
  const { clock, manager, store, published, gauge } = setup(t);
  await manager.start();
  const first = manager.signingKey()!.kid;
  const firstEtag = manager.jwks()!.etag;

  clock.time = T0 + ROTATE_EVERY - 1;
  await manager.sync();
  t.equal((await store.list()).length, 1, 'not due yet');
  t.equal(manager.jwks()!.etag, firstEtag, 'a re-read without changes keeps the ETag');

  clock.time = T0 + ROTATE_EVERY;
  await manager.sync();
  const second = (await store.list()).find((k) => k.kid !== first)!;
  t.ok(second, 'rotated when due');
  t.equal(second.activatesAt, clock.time + PUBLISH_AHEAD);
  t.same(published(), [second.kid, first], 'the new key is published at once');
  t.equal(manager.signingKey()?.kid, first, '…but the old one still signs');
  t.not(manager.jwks()!.etag, firstEtag, 'the ETag changed with the keys');
  t.equal(await gauge(), 2);
  const twoKeysEtag = manager.jwks()!.etag;

  clock.time = second.activatesAt - 1;
  t.equal(manager.signingKey()?.kid, first, 'one ms before activation: still the old key');
  clock.time = second.activatesAt;
  t.equal(manager.signingKey()?.kid, second.kid, 'at activation the new key signs (no store read needed)');
  t.equal(manager.jwks()!.etag, twoKeysEtag, 'activation does not change the published set, nor the ETag');

  clock.time = second.activatesAt + TTL + MARGIN - 1;
  t.same(published(), [second.kid, first], 'the old key stays while its assertions may live');
  await manager.sync();
  t.equal((await store.list()).length, 2, 'and stays in the store');

  clock.time = second.activatesAt + TTL + MARGIN;
  t.same(published(), [second.kid], 'then it leaves the JWKS');
  t.not(manager.jwks()!.etag, twoKeysEtag);
  t.equal(await gauge(), 1);
  await manager.sync();
  t.same((await store.list()).map((k) => k.kid), [second.kid], 'and the store');
});

t.test('a due rotation is done by exactly one of several replicas', async (t) => {
  const store = createMemoryKeyStore();
  const replicas = [setup(t, store), setup(t, store), setup(t, store)];
  await Promise.all(replicas.map((r) => r.manager.start()));
  for (const r of replicas) r.clock.time = T0 + ROTATE_EVERY + 5;
  await Promise.all(replicas.map((r) => r.manager.sync()));
  t.equal((await store.list()).length, 2, 'one new key, not three');
});

t.test('a key added elsewhere (rotate-keys) is published as soon as the store announces it', async (t) => {
  const { clock, manager, store, published } = setup(t);
  await manager.start();
  const added = await generateStoredKey(clock.time, clock.time + PUBLISH_AHEAD);
  await store.add(added);
  await eventually(() => published().includes(added.kid));
  t.not(manager.signingKey()?.kid, added.kid, 'published, not yet signing');
});

t.test('keys the store lost (flushed, failed over) are put back, not replaced', async (t) => {
  const { clock, manager, store, published } = setup(t);
  await manager.start();
  const first = manager.signingKey()!.kid;
  clock.time = T0 + ROTATE_EVERY;
  await manager.sync();
  const before = manager.jwks()!.etag;
  // all at once, behind the manager's back, as FLUSHALL would
  await Promise.all((await store.list()).map((key) => store.remove(key.kid)));
  await manager.sync();
  t.equal((await store.list()).length, 2, 'both keys restored');
  t.equal(manager.signingKey()?.kid, first, 'the same key still signs');
  t.equal(manager.jwks()!.etag, before, 'the JWKS did not change');
  t.equal(published().length, 2);
});

t.test('an unreachable store: no keys and no JWKS until it answers, then ready', async (t) => {
  const inner = createMemoryKeyStore();
  let down = true;
  const flaky: KeyStore = {
    ...inner,
    list: () => (down ? Promise.reject(new Error('ECONNREFUSED')) : inner.list()),
    add: (key, condition) => (down ? Promise.reject(new Error('ECONNREFUSED')) : inner.add(key, condition)),
  };
  const { manager } = setup(t, flaky);
  let started = false;
  void manager.start().then(() => (started = true));
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(manager.ready());
  t.equal(manager.jwks(), undefined);
  t.notOk(started);
  down = false;
  await eventually(() => started, 3000); // the retry timer (250 ms first) picks it up
  t.ok(manager.ready());
});

t.test('a signing key this replica cannot open: published, but not used to sign', async (t) => {
  const inner = createMemoryKeyStore();
  const key = await generateStoredKey(T0 - 1000, T0 - 1000);
  await inner.add(key);
  const blind: KeyStore = {
    ...inner,
    list: async () => (await inner.list()).map(({ privateJwk: _p, ...rest }): StoredKey => rest),
  };
  const { manager, published } = setup(t, blind);
  void manager.start();
  await eventually(() => manager.jwks() !== undefined);
  t.same(published(), [key.kid]);
  t.equal(manager.signingKey(), undefined);
  t.equal((await inner.list()).length, 1, 'no second key is made behind the first one');
});
