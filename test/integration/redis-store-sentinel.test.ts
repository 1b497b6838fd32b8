import t from 'tap';
import type { StoreEvent } from '../../src/session/store.js';
import { startRedisSentinel } from '../support/redis-sentinel.js';
import { makeRecord, makeStore, until } from '../support/redis-store-fixture.js';

/** Two stores that find their master through a real Sentinel. */
t.test('a sentinel URL reaches the master; notifications flow between two replicas', async (t) => {
  const sentinel = await startRedisSentinel();
  t.teardown(() => sentinel.close());
  const a = makeStore(t, sentinel.url);
  const b = makeStore(t, sentinel.url);
  await Promise.all([a.store.start(), b.store.start()]);
  const events: StoreEvent[] = [];
  b.store.subscribe((e) => events.push(e));
  const record = makeRecord();
  await a.store.create(record);
  await until(() => b.store.peek(record.handle), 'B mirrors it');
  t.equal(await sentinel.master.client().exists(`pc:s:{${record.handle}}`), 1, 'written on the master the sentinel named');
  await a.store.remove(record.handle, 'logout');
  await until(() => events.some((e) => e.kind === 'tombstone'), 'B hears the tombstone');
  t.same((await b.store.load(record.handle)) ?? null, null);
});
