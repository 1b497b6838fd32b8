import type { Redis } from 'ioredis';
import t from 'tap';
import { parseRedisUrl } from '../../src/config/redis-url.js';
import { createRedisBackend } from '../../src/redis/connection.js';
import { eventually } from '../support/eventually.js';
import { startRedis } from '../support/redis-server.js';
import { makeRecord, makeStore } from '../support/redis-store-fixture.js';
import type { StoreEvent } from '../../src/session/store.js';

const COUNT = 20_000;

t.test(`a replica joining resyncs ${COUNT} sessions (timing printed, not asserted)`, async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.close());
  const writer = makeStore(t, redis.url);
  await writer.store.start();
  const handles: string[] = [];
  const now = Date.now();
  for (let i = 0; i < COUNT; i += 500) {
    const batch = Array.from({ length: Math.min(500, COUNT - i) }, () =>
      makeRecord({ user: { sub: `user-${i}`, email: 'someone@example.com', groups: ['staff', 'eng'], claims: { department: 'r&d', level: 3 } } }, now),
    );
    handles.push(...batch.map((r) => r.handle));
    await Promise.all(batch.map((r) => writer.store.create(r)));
  }

  const heapBefore = process.memoryUsage().heapUsed;
  const reader = makeStore(t, redis.url);
  const events: StoreEvent[] = [];
  reader.store.subscribe((e) => events.push(e));
  const started = performance.now();
  await reader.store.start();
  const took = performance.now() - started;
  const heapAfter = process.memoryUsage().heapUsed;
  t.comment(`resync of ${COUNT} sessions: ${took.toFixed(0)} ms (start() including connect); heap +${((heapAfter - heapBefore) / COUNT).toFixed(0)} bytes/session (rough)`);
  t.same(events.find((e) => e.kind === 'resync'), { kind: 'resync', sessions: COUNT });
  t.equal([...reader.store.snapshot()].length, COUNT);
  t.ok(handles.every((h) => reader.store.peek(h)), 'every session mirrored');
  const clients = String(await redis.client().client('LIST'));
  t.notMatch(clients, /name=portcullis-scan/, 'the SCAN walk closed its own connection when it was done');

  // and a resync that finds a session gone drops it
  const raw = redis.client();
  await raw.del(`pc:s:{${handles[0]!}}`);
  const again = performance.now();
  await redis.client().client('KILL', 'TYPE', 'normal'); // both connections of every store drop and come back
  const { until } = await import('../support/redis-store-fixture.js');
  await until(() => events.filter((e) => e.kind === 'resync').length >= 2 && reader.store.status().up, 'a second resync');
  t.comment(`reconnect + resync: ${(performance.now() - again).toFixed(0)} ms`);
  t.equal(reader.store.peek(handles[0]!), undefined);
  t.equal([...reader.store.snapshot()].length, COUNT - 1);
});

t.test('the SCAN walk runs on a connection of its own, closed when the walk ends or the backend closes', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.close());
  const raw = redis.client();
  await raw.mset(Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`w:${i}`, '1'])));
  const backend = createRedisBackend(parseRedisUrl(redis.url));
  t.teardown(() => backend.close());
  await (backend.client as Redis).connect();
  const scanConnections = async () => (String(await raw.client('LIST')).match(/name=portcullis-scan/g) ?? []).length;

  const walk = backend.scan('w:*', 100);
  let keys = (await walk.next()).value?.length ?? 0;
  t.equal(await scanConnections(), 1, 'mid-walk, a portcullis-scan connection is open');
  for await (const page of walk) keys += page.length;
  t.equal(keys, 3000, 'every key found');
  await eventually(async () => (await scanConnections()) === 0, 5000);
  t.pass('closed when the walk ended');

  const abandoned = backend.scan('w:*', 100);
  await abandoned.next();
  t.equal(await scanConnections(), 1);
  await backend.close();
  await eventually(async () => (await scanConnections()) === 0, 5000);
  t.pass('a walk left half-way is closed with the backend');
});
