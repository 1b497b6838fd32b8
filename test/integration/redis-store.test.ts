import t from 'tap';
import { startRedis } from '../support/redis-server.js';
import { makeRecord, makeStore, metricValue, newHandle, until } from '../support/redis-store-fixture.js';
import { SKIP, type StoreEvent } from '../../src/session/store.js';
import { UPDATE, runScript } from '../../src/session/redis-scripts.js';

const redis = await startRedis();
t.teardown(() => redis.close());
const raw = redis.client();
t.beforeEach(async () => {
  await raw.flushall();
});

async function getCalls(): Promise<number> {
  const info = await raw.info('commandstats');
  return Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

t.test('one store: create, read, update, touch, remove', async (t) => {
  const { store } = makeStore(t, redis.url);
  await store.start();
  t.same(store.status(), { up: true, queued: 0 });
  const flags = ((await raw.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '';
  for (const flag of ['K', 'g', '$', 'x']) t.ok(flags.includes(flag), `the store turned on ${flag} (${flags})`);

  const record = makeRecord();
  await store.create(record);
  const { tokens: _tokens, ...view } = record;
  t.same(store.peek(record.handle), view, 'the creating replica mirrors it at once');
  t.same(await store.get(record.handle), view);
  t.same(await store.load(record.handle), record, 'load decrypts the tokens');
  await t.rejects(store.create(record), /exists/, 'a handle is created once');

  const updated = await store.update(record.handle, (current) => ({ ...current, tokens: { ...current.tokens, accessToken: 'AT-new' }, accessTokenExpiresAt: current.createdAt + 1 }));
  t.equal(updated?.version, 2);
  t.equal((await store.load(record.handle))?.tokens.accessToken, 'AT-new');
  t.equal(store.peek(record.handle)?.version, 2);
  t.equal(await store.update(record.handle, () => SKIP), undefined, 'SKIP writes nothing');
  t.equal((await store.load(record.handle))?.version, 2);

  const later = record.lastSeenAt + 5000;
  await store.touch(record.handle, later);
  t.equal((await store.load(record.handle))?.lastSeenAt, later, 'touch moves lastSeenAt');
  await store.touch(record.handle, later - 1000);
  t.equal((await store.load(record.handle))?.lastSeenAt, later, 'never backwards');
  const pttl = await raw.pttl(`pc:s:{${record.handle}}`);
  t.ok(pttl > 3_500_000 && pttl <= 3_600_000 + 5000, `TTL follows the earlier end (${pttl})`);
  t.ok(Math.abs((await raw.pttl(`pc:k:{${record.handle}}`)) - pttl) < 1000, 'the tokens share the TTL');

  const tombstone = await store.remove(record.handle, 'logout');
  t.match(tombstone, { handle: record.handle, sub: record.user.sub, idpSid: record.idpSid, reason: 'logout' });
  t.equal(await store.get(record.handle), undefined);
  t.equal(await store.load(record.handle), undefined);
  t.same(await store.tombstone(record.handle), tombstone);
  t.equal(await raw.exists(`pc:s:{${record.handle}}`, `pc:k:{${record.handle}}`), 0, 'the view and the tokens are gone');
  const tombTtl = await raw.pttl(`pc:t:{${record.handle}}`);
  t.ok(tombTtl > 290_000 && tombTtl <= 300_000, 'the tombstone has tombstone_ttl');
  t.equal(await store.remove(record.handle, 'logout'), undefined, 'a second remove finds nothing');
  await t.rejects(store.create(record), /deleted/, 'a tombstoned handle cannot be created again');
  await store.touch(record.handle, Date.now());
  t.equal(await store.update(record.handle, (c) => c), undefined);
  t.equal(await raw.exists(`pc:s:{${record.handle}}`), 0, 'touch and update did not resurrect it');
});

t.test('a raw Redis dump holds no token in plaintext', async (t) => {
  const { store } = makeStore(t, redis.url);
  await store.start();
  const records = [makeRecord(), makeRecord(), makeRecord()];
  for (const r of records) await store.create(r);
  await store.update(records[0]!.handle, (c) => ({ ...c, tokens: { accessToken: 'AT-rotated-xyz', refreshToken: 'RT-rotated-xyz' } }));
  const dump: string[] = [];
  for (const key of await raw.keys('*')) {
    const type = await raw.type(key);
    dump.push(key, type === 'string' ? ((await raw.get(key)) ?? '') : type === 'set' ? (await raw.smembers(key)).join(',') : type);
  }
  const text = dump.join('\n');
  t.ok(text.includes(records[1]!.user.sub), 'the dump is readable (sanity)');
  for (const r of records) for (const token of Object.values(r.tokens)) t.notOk(text.includes(token), 'no original token');
  t.notOk(text.includes('AT-rotated-xyz') || text.includes('RT-rotated-xyz'), 'no refreshed token');
  t.notOk(/AT-|RT-|ID-/.test(text), 'no token prefix at all');
});

t.test('two stores: a login on A is visible on B, a logout on A reaches B as a tombstone', async (t) => {
  const a = makeStore(t, redis.url);
  const b = makeStore(t, redis.url);
  await Promise.all([a.store.start(), b.store.start()]);
  const events: StoreEvent[] = [];
  b.store.subscribe((e) => events.push(e));

  const record = makeRecord();
  const created = Date.now();
  await a.store.create(record);
  await until(() => b.store.peek(record.handle), 'B mirrors the new session');
  t.comment(`create on A → mirrored on B in ${Date.now() - created} ms`);
  t.match(events, [{ kind: 'set', session: { handle: record.handle } }]);
  t.notOk('tokens' in b.store.peek(record.handle)!, 'mirrors hold no tokens');

  await a.store.update(record.handle, (c) => ({ ...c, user: { ...c.user, groups: ['new'] } }));
  await until(() => b.store.peek(record.handle)?.version === 2, 'B sees the update');
  t.same(b.store.peek(record.handle)?.user.groups, ['new']);

  const removedAt = Date.now();
  const tombstone = await a.store.remove(record.handle, 'backchannel');
  await until(() => events.some((e) => e.kind === 'tombstone'), 'B hears the tombstone', 5000);
  const took = Date.now() - removedAt;
  t.comment(`logout on A → tombstone event on B in ${took} ms`);
  t.ok(took < 2000, 'within a bounded time');
  t.same(events.find((e) => e.kind === 'tombstone'), { kind: 'tombstone', tombstone });
  t.equal(b.store.peek(record.handle), undefined);
  t.equal(await b.store.get(record.handle), undefined);
  t.equal(events.filter((e) => e.kind === 'tombstone').length, 1, 'heard once');
  t.ok((await metricValue(b.metrics, 'portcullis_session_sync_events_total', { event: 'tombstone' })) >= 1);
  t.ok((await metricValue(b.metrics, 'portcullis_session_sync_events_total', { event: 'set' })) >= 2);
});

t.test('a write racing a remove never resurrects the session', async (t) => {
  const a = makeStore(t, redis.url);
  const b = makeStore(t, redis.url);
  await Promise.all([a.store.start(), b.store.start()]);

  // the script itself: a write based on the version read before the logout is refused
  const record = makeRecord();
  await a.store.create(record);
  await b.store.remove(record.handle, 'logout');
  const triple = [`pc:s:{${record.handle}}`, `pc:t:{${record.handle}}`, `pc:k:{${record.handle}}`];
  const stale = await runScript(raw, UPDATE, triple, ['1', '2', String(Date.now()), String(record.expiresAt), '{}', String(Date.now()), '3600000', 'v1.x']);
  t.equal(stale, 'TOMBSTONED');
  t.same(await raw.exists(triple[0]!, triple[2]!), 0, 'neither view nor tokens were written');

  // and many real races
  const raced: string[] = [];
  for (let i = 0; i < 40; i++) {
    const r = makeRecord();
    raced.push(r.handle);
    await a.store.create(r);
    await Promise.all([
      a.store.update(r.handle, (c) => ({ ...c, tokens: { ...c.tokens, accessToken: `refreshed-${i}` } })),
      a.store.touch(r.handle, Date.now() + 10),
      b.store.remove(r.handle, 'logout'),
      a.store.update(r.handle, (c) => ({ ...c, accessTokenExpiresAt: Date.now() })),
    ]);
    t.equal(await raw.exists(`pc:s:{${r.handle}}`), 0, `race ${i}: no record`);
    t.equal(await raw.exists(`pc:t:{${r.handle}}`), 1, `race ${i}: tombstone kept`);
  }
  const kept = (): string[] => raced.filter((h) => a.store.peek(h) || b.store.peek(h));
  await until(() => kept().length === 0, 'both mirrors to drop every raced session', 3000).catch(() => undefined);
  t.same(kept(), [], 'no mirror kept a removed session');
});

t.test('a miss is looked up once, then negative-cached', async (t) => {
  const a = makeStore(t, redis.url);
  const b = makeStore(t, redis.url);
  await Promise.all([a.store.start(), b.store.start()]);

  const garbage = newHandle();
  const before = await getCalls();
  for (let i = 0; i < 100; i++) t.equal(await b.store.get(garbage), undefined);
  t.equal((await getCalls()) - before, 1, 'Redis saw one GET for 100 requests');
  t.equal(await metricValue(b.metrics, 'portcullis_session_sync_events_total', { event: 'miss' }), 1);
  t.equal(await b.store.get('not a handle {}'), undefined, 'a malformed handle never reaches Redis');

  // a session created on A and asked for on B before B's notification is handled: found by the lookup
  const record = makeRecord();
  await a.store.create(record);
  const found = await b.store.get(record.handle);
  t.equal(found?.handle, record.handle, 'the lookup finds it');
  t.equal(b.store.peek(record.handle)?.handle, record.handle, 'and it enters the mirror');
  const misses = await metricValue(b.metrics, 'portcullis_session_sync_events_total', { event: 'miss' });
  await b.store.get(record.handle);
  t.equal(await metricValue(b.metrics, 'portcullis_session_sync_events_total', { event: 'miss' }), misses, 'now a mirror hit');
});

t.test('indexes: list and remove by user and by IdP session', async (t) => {
  const a = makeStore(t, redis.url);
  const b = makeStore(t, redis.url);
  await Promise.all([a.store.start(), b.store.start()]);
  const events: StoreEvent[] = [];
  b.store.subscribe((e) => events.push(e));
  const sub = `user-${newHandle()}`;
  const one = makeRecord({ user: { sub, groups: [], claims: {} }, idpSid: 'sid-one' });
  const two = makeRecord({ user: { sub, groups: [], claims: {} }, idpSid: 'sid-two' });
  const other = makeRecord();
  for (const r of [one, two, other]) await a.store.create(r);
  t.same((await b.store.listBySub(sub)).map((s) => s.handle).sort(), [one.handle, two.handle].sort());
  const idxTtl = await raw.pttl((await raw.keys('pc:u:*'))[0]!);
  t.ok(idxTtl >= 3_600_000 - 5000, 'the index outlives its members');

  const bySid = await b.store.removeByIdpSid('sid-two', 'backchannel');
  t.same(bySid.map((x) => x.handle), [two.handle]);
  t.same((await a.store.listBySub(sub)).map((s) => s.handle), [one.handle]);
  const bySub = await a.store.removeBySub(sub, 'operator');
  t.same(bySub.map((x) => x.handle), [one.handle]);
  t.same(await b.store.listBySub(sub), []);
  await until(() => events.filter((e) => e.kind === 'tombstone').length === 2, 'B heard both');
  t.ok(b.store.peek(other.handle), 'others untouched');
  const all: string[] = [];
  for await (const s of b.store.list()) all.push(s.handle);
  t.ok(all.includes(other.handle) && !all.includes(one.handle) && !all.includes(two.handle), 'list() streams the live sessions');
});

t.test('TTL expiry reaches the other replica as an expired event', async (t) => {
  const a = makeStore(t, redis.url, { idleTimeoutMs: 400 });
  const b = makeStore(t, redis.url, { idleTimeoutMs: 400 });
  await Promise.all([a.store.start(), b.store.start()]);
  const events: StoreEvent[] = [];
  b.store.subscribe((e) => events.push(e));
  const record = makeRecord();
  await a.store.create(record);
  await until(() => b.store.peek(record.handle), 'mirrored');
  await until(() => events.some((e) => e.kind === 'expired' && e.handle === record.handle), 'expired event', 5000);
  t.equal(b.store.peek(record.handle), undefined);
  t.equal(await b.store.get(record.handle), undefined);
});

t.test('leases: one owner at a time, released only by its owner, passed on after its TTL', async (t) => {
  const a = makeStore(t, redis.url);
  const b = makeStore(t, redis.url);
  await Promise.all([a.store.start(), b.store.start()]);
  t.equal(await a.store.acquireLease('refresh:x', 'replica-a', 5000), true);
  t.equal(await b.store.acquireLease('refresh:x', 'replica-b', 5000), false);
  t.equal(await a.store.acquireLease('refresh:x', 'replica-a', 5000), true, 'the holder may extend it');
  await b.store.releaseLease('refresh:x', 'replica-b');
  t.equal(await b.store.acquireLease('refresh:x', 'replica-b', 5000), false, 'not released by a stranger');
  await a.store.releaseLease('refresh:x', 'replica-a');
  t.equal(await b.store.acquireLease('refresh:x', 'replica-b', 150), true);
  await until(async () => a.store.acquireLease('refresh:x', 'replica-a', 5000), 'the lease passes on when its holder stops renewing', 3000);
});
