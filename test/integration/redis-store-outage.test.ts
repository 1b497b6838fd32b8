import t from 'tap';
import { GatewayError } from '../../src/errors.js';
import type { StoreEvent } from '../../src/session/store.js';
import { startRedis } from '../support/redis-server.js';
import { makeRecord, makeStore, metricValue, until } from '../support/redis-store-fixture.js';

t.test('Redis killed and restarted empty: mirrors serve, a logout is queued and written, sessions are restored, replicas agree', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.close());
  const a = makeStore(t, redis.url);
  const b = makeStore(t, redis.url);
  await Promise.all([a.store.start(), b.store.start()]);
  const eventsA: StoreEvent[] = [];
  const eventsB: StoreEvent[] = [];
  a.store.subscribe((e) => eventsA.push(e));
  b.store.subscribe((e) => eventsB.push(e));
  const [s1, s2, s3] = [makeRecord(), makeRecord(), makeRecord()];
  for (const r of [s1!, s2!, s3!]) await a.store.create(r);
  await until(() => b.store.peek(s3!.handle), 'B mirrors the sessions');
  t.equal(await metricValue(a.metrics, 'portcullis_store_up'), 1);

  await redis.stop();
  await until(() => !a.store.status().up && !b.store.status().up, 'both see the outage');
  t.equal(await metricValue(a.metrics, 'portcullis_store_up'), 0, 'store_up drops to 0');
  t.equal(await metricValue(b.metrics, 'portcullis_store_up'), 0);
  t.ok(eventsA.some((e) => e.kind === 'down') && eventsB.some((e) => e.kind === 'down'), 'down events');
  t.match(a.store.status(), { up: false, queued: 0, detail: /unreachable|subscriber/ });

  t.equal((await a.store.get(s1!.handle))?.handle, s1!.handle, 'A serves from its mirror');
  t.equal((await b.store.get(s1!.handle))?.handle, s1!.handle, 'B serves from its mirror');
  t.equal((await b.store.get(s2!.handle))?.handle, s2!.handle);

  const created = a.store.create(makeRecord());
  await t.rejects(created, GatewayError);
  await created.catch((error: GatewayError) => t.equal(error.code, 'GW_STORE_UNAVAILABLE', 'a new login gets a clear 503'));
  await t.rejects(a.store.update(s2!.handle, (c) => c), { code: 'GW_STORE_UNAVAILABLE' });
  await a.store.touch(s2!.handle, Date.now());
  t.equal(await a.store.acquireLease('refresh:x', 'a', 1000), false, 'no lease while down');

  const tombstone = await a.store.remove(s1!.handle, 'logout');
  t.match(tombstone, { handle: s1!.handle, sub: s1!.user.sub, idpSid: s1!.idpSid, reason: 'logout' });
  t.equal(await a.store.get(s1!.handle), undefined, 'the logout takes effect on A at once');
  t.same(eventsA.filter((e) => e.kind === 'tombstone'), [{ kind: 'tombstone', tombstone }], 'and A hears it at once');
  t.equal(a.store.status().queued, 1, 'queued');
  t.same(await a.store.tombstone(s1!.handle), tombstone);
  const bySub = await a.store.removeBySub(s3!.user.sub, 'operator');
  t.same(bySub.map((x) => x.handle), [s3!.handle]);
  t.equal(a.store.status().queued, 3, 'the tombstone and the by-user deletion');

  const restartedAt = Date.now();
  await redis.restart();
  await until(() => a.store.status().up && b.store.status().up, 'both come back', 15_000);
  t.comment(`both replicas up again ${Date.now() - restartedAt} ms after Redis restarted`);
  t.equal(await metricValue(a.metrics, 'portcullis_store_up'), 1, 'store_up back to 1');
  t.equal(await metricValue(b.metrics, 'portcullis_store_up'), 1);
  t.ok(eventsA.some((e) => e.kind === 'up') && eventsB.some((e) => e.kind === 'up'), 'up events');
  t.same(a.store.status(), { up: true, queued: 0 }, 'the queue was written');

  const raw = redis.client();
  t.equal(await raw.exists(`pc:t:{${s1!.handle}}`), 1, 'the queued tombstone reached the new Redis');
  t.same(await b.store.tombstone(s1!.handle), tombstone, 'B can read it');
  t.equal(b.store.peek(s1!.handle), undefined, 'B no longer serves the logged-out session');
  t.equal(await b.store.get(s1!.handle), undefined);
  t.ok(eventsB.some((e) => e.kind === 'resync'), 'B resynced');
  t.same([...a.store.snapshot()].map((s) => s.handle).sort(), [...b.store.snapshot()].map((s) => s.handle).sort(), 'replicas agree');
  t.same([...b.store.snapshot()].map((s) => s.handle), [s2!.handle], 'exactly the session nobody logged out');

  // Redis came back empty; the replicas wrote their mirrors back (without tokens, see docs/redis.md)
  t.equal(await raw.exists(`pc:s:{${s2!.handle}}`), 1, 'the untouched session is in Redis again');
  t.equal(await raw.exists(`pc:s:{${s3!.handle}}`), 0, 'the by-user logout was not undone');
  t.match(await b.store.get(s2!.handle), { handle: s2!.handle, refreshable: false }, 'served on B, no longer refreshable');
  t.match(await a.store.load(s2!.handle), { handle: s2!.handle, tokens: { accessToken: '' } }, 'its tokens did not survive');
  t.equal((await a.store.listBySub(s2!.user.sub)).length, 1, 'the indexes were rebuilt');

  const fresh = makeRecord();
  await b.store.create(fresh);
  await until(() => a.store.peek(fresh.handle), 'notifications flow again after the restart');
  t.pass('new logins work and replicate');
});

t.test('the outage queue is bounded: the oldest deletion is dropped with an error', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.close());
  const { store, logs } = makeStore(t, redis.url, { outageQueueLimit: 2 });
  await store.start();
  const records = [makeRecord(), makeRecord(), makeRecord()];
  for (const r of records) await store.create(r);
  await redis.stop();
  await until(() => !store.status().up, 'down');
  for (const r of records) await store.remove(r.handle, 'logout');
  t.equal(store.status().queued, 2);
  t.ok(logs.some((l) => l.level === 50 && l.msg.includes('outage queue full')), 'logged as an error');
  await redis.restart();
  await until(() => store.status().up, 'up again', 15_000);
  const raw = redis.client();
  t.same(
    await Promise.all(records.map((r) => raw.exists(`pc:t:{${r.handle}}`))),
    [0, 1, 1],
    'the two newest were written',
  );
});
