import t from 'tap';
import type { StoreEvent } from '../../src/session/store.js';
import { startRedisCluster } from '../support/redis-cluster.js';
import { contractStoreFactory, makeRecord, makeStore, until } from '../support/redis-store-fixture.js';
import { runStoreContract } from '../support/store-contract.js';

/** The store on a real 3-master Redis Cluster: keyspace events per master, scripts on one slot. */
const cluster = await startRedisCluster(3);
t.teardown(() => cluster.close());

await runStoreContract(t, 'redis cluster', contractStoreFactory(cluster.url));

t.test('two stores on the cluster: sessions on every master reach the other replica, both ways', async (t) => {
  const a = makeStore(t, cluster.url);
  const b = makeStore(t, cluster.url);
  await Promise.all([a.store.start(), b.store.start()]);
  for (const node of cluster.nodes) {
    const flags = ((await node.client().config('GET', 'notify-keyspace-events')) as string[])[1] ?? '';
    t.match(flags, /K/, `notifications on for master ${node.port}`);
  }
  const events: StoreEvent[] = [];
  b.store.subscribe((e) => events.push(e));
  const records = Array.from({ length: 30 }, () => makeRecord());
  for (const r of records) await a.store.create(r);
  await until(() => records.every((r) => b.store.peek(r.handle)), 'B mirrors sessions from every master');
  const masters = new Set<number>();
  for (const node of cluster.nodes) {
    const held = await node.client().keys('pc:s:*');
    if (held.length > 0) masters.add(node.port);
  }
  t.equal(masters.size, 3, 'the sessions are spread over all three masters');
  for (const r of records) await b.store.remove(r.handle, 'logout');
  await until(() => records.every((r) => !a.store.peek(r.handle)), 'A hears every tombstone');
  const c = makeStore(t, cluster.url);
  await c.store.start();
  t.equal([...c.store.snapshot()].length, [...a.store.snapshot()].length, 'a new replica resyncs from every master');
});
