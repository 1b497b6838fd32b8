import t from 'tap';
import { generateStoredKey } from '../../src/keys/key-material.js';
import { createKeyManager } from '../../src/keys/key-manager.js';
import type { KeyStore } from '../../src/keys/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { createRedisKeyStore } from '../../src/keys/redis-key-store.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { eventually } from '../support/stack.js';

/** Signing keys in a real Redis: atomic conditional adds, sealed private keys, change announcements. */
const MATERIAL = 'a-test-cookie-secret-that-is-long-enough-0123456789';
const logger = createLogger({ level: 'silent' });
let redis: RedisServer;

t.before(async () => {
  redis = await startRedis();
});
t.teardown(() => redis.close());

function open(t: { teardown(fn: () => unknown): void }, prefix: string, keyMaterial = MATERIAL): KeyStore {
  const store = createRedisKeyStore({ url: redis.url, keyPrefix: prefix, keyMaterial, logger });
  t.teardown(() => store.close());
  return store;
}

t.test('a conditional add is atomic: of eight racing replicas, one creates the first key', async (t) => {
  const stores = Array.from({ length: 8 }, () => open(t, 'race:'));
  await Promise.all(stores.map((s) => s.start()));
  const now = Date.now();
  const results = await Promise.all(stores.map(async (s) => s.add(await generateStoredKey(now, now), { noKeyActiveBy: now })));
  t.equal(results.filter(Boolean).length, 1);
  t.equal((await stores[0]!.list()).length, 1);
  const later = await generateStoredKey(now + 10, now + 10);
  t.notOk(await stores[1]!.add(later, { noKeyCreatedAfter: now - 1 }), 'a rotation that another replica already did is refused');
  t.ok(await stores[1]!.add(later), 'an unconditional add (rotate-keys) always lands');
});

t.test('the private key is sealed at rest and opens only with the same secret', async (t) => {
  const store = open(t, 'sealed:');
  await store.start();
  const key = await generateStoredKey(Date.now(), Date.now());
  await store.add(key);
  const stored = await redis.client().hget('sealed:signing-keys', key.kid);
  t.ok(stored);
  t.notOk(stored!.includes(key.privateJwk!.d!), 'the private scalar is not in Redis in the clear');
  t.notOk(/"d"\s*:/.test(stored!), 'no plaintext private JWK');
  const [back] = await store.list();
  t.same(back!.privateJwk, key.privateJwk, 'opens with the right secret');

  const stranger = open(t, 'sealed:', 'another-secret-that-is-also-long-enough-98765');
  await stranger.start();
  const [seen] = await stranger.list();
  t.equal(seen!.kid, key.kid, 'the public part is still readable');
  t.equal(seen!.privateJwk, undefined, 'the private part does not open with another secret');

  await redis.client().hset('sealed:signing-keys', 'junk', 'not json');
  t.equal((await store.list()).length, 1, 'an unreadable entry is skipped');
});

t.test('changes are announced to every store; a reconnect is announced too', async (t) => {
  const writer = open(t, 'notify:');
  const reader = open(t, 'notify:');
  let changes = 0;
  reader.subscribe(() => changes++);
  await Promise.all([writer.start(), reader.start()]);
  await eventually(() => changes > 0); // the first connect counts as a change
  const seen = changes;
  const key = await generateStoredKey(Date.now(), Date.now());
  await writer.add(key);
  await eventually(() => changes > seen);
  const afterAdd = changes;
  await writer.remove(key.kid);
  await eventually(() => changes > afterAdd);

  const beforeRestart = changes;
  await redis.restart();
  await eventually(() => changes > beforeRestart, 10_000);
  t.pass('a reconnect makes listeners re-read (notifications sent while away are lost)');
});

t.test('key managers on one Redis: one first key, one rotation, pruning, every JWKS follows', async (t) => {
  const clock = { time: Date.UTC(2030, 0, 1), now() { return this.time; } };
  const deps = { clock, logger, publishAheadMs: 120_000, rotateEveryMs: 86_400_000, assertionTtlMs: 300_000 };
  const managers = [0, 1, 2].map(() => {
    const manager = createKeyManager({ store: open(t, 'managers:'), ...deps });
    t.teardown(() => manager.close());
    return manager;
  });
  await Promise.all(managers.map((m) => m.start()));
  const inspect = redis.client();
  t.equal(await inspect.hlen('managers:signing-keys'), 1, 'one first key between three replicas');
  const first = managers[0]!.signingKey()!.kid;
  t.ok(managers.every((m) => m.signingKey()?.kid === first));

  clock.time += 86_400_000;
  await Promise.all(managers.map((m) => m.sync()));
  t.equal(await inspect.hlen('managers:signing-keys'), 2, 'one rotation between three replicas');
  await eventually(() => managers.every((m) => m.jwks()!.kids.length === 2));
  t.equal(new Set(managers.map((m) => m.jwks()!.etag)).size, 1, 'every replica serves the same JWKS (same ETag)');
  t.ok(managers.every((m) => m.signingKey()?.kid === first), 'the old key signs until the new one activates');

  const etag = managers[0]!.jwks()!.etag;
  await inspect.flushall();
  await Promise.all(managers.map((m) => m.sync()));
  t.equal(await inspect.hlen('managers:signing-keys'), 2, 'a flushed Redis gets the keys back from the replicas');
  t.ok(managers.every((m) => m.jwks()!.etag === etag), 'and no JWKS changed');

  clock.time += 120_000;
  const second = managers[0]!.signingKey()!.kid;
  t.not(second, first);
  t.ok(managers.every((m) => m.signingKey()?.kid === second), 'all switch at activation');

  clock.time += 300_000 + 60_000;
  await Promise.all(managers.map((m) => m.sync()));
  t.same(await inspect.hkeys('managers:signing-keys'), [second], 'the retired key is pruned');
  t.ok(managers.every((m) => m.jwks()!.kids.length === 1));
});
