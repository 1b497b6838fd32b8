import t from 'tap';
import { startRedis } from '../support/redis-server.js';
import { makeRecord, makeStore, until } from '../support/redis-store-fixture.js';

async function flags(client: { config(op: 'GET', name: string): Promise<unknown> }): Promise<string> {
  return ((await client.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '';
}

t.test('CONFIG refused and notifications off: not up, a detail naming notify-keyspace-events, a loud error, start() waits', async (t) => {
  const redis = await startRedis({ args: ['--rename-command', 'CONFIG', '', '--notify-keyspace-events', ''] });
  t.teardown(() => redis.close());
  const { store, logs } = makeStore(t, redis.url);
  let started = false;
  store.start().then(
    () => {
      started = true;
    },
    () => undefined,
  );
  const status = await until(() => (store.status().detail?.includes('notify-keyspace-events') ? store.status() : undefined), 'the detail');
  t.equal(status.up, false);
  t.match(status.detail, /notify-keyspace-events could not be read \(CONFIG GET refused.*no keyspace notification arrived.*K, g, \$ and x/);
  t.comment(`status: ${JSON.stringify(status)}`);
  const loud = logs.find((l) => l.level === 50 && String(l.detail).includes('notify-keyspace-events'));
  t.ok(loud, 'an error is logged');
  t.equal(started, false, 'start() keeps waiting');
});

t.test('CONFIG refused but an operator turned notifications on: the probe proves them and the store is up', async (t) => {
  const redis = await startRedis({ args: ['--rename-command', 'CONFIG', '', '--notify-keyspace-events', 'KEA'] });
  t.teardown(() => redis.close());
  const a = makeStore(t, redis.url);
  const b = makeStore(t, redis.url);
  await Promise.all([a.store.start(), b.store.start()]);
  t.equal(a.store.status().up, true);
  const record = makeRecord();
  await a.store.create(record);
  await until(() => b.store.peek(record.handle), 'B sees the session through notifications');
  t.pass('notifications flow');
});

t.test('configure_keyspace_events false only checks, and never changes the server', async (t) => {
  const redis = await startRedis({ args: ['--notify-keyspace-events', 'El'] });
  t.teardown(() => redis.close());
  const { store } = makeStore(t, redis.url, { configureKeyspaceEvents: false });
  store.start().catch(() => undefined);
  const status = await until(() => (store.status().detail?.includes('notify-keyspace-events') ? store.status() : undefined), 'the detail');
  t.equal(status.up, false);
  t.match(status.detail, /notify-keyspace-events is "lE", lacking Kg\$x, and session.redis.configure_keyspace_events is false/);
  t.equal(await flags(redis.client()), 'lE', 'untouched');
});

t.test('CONFIG SET merges with the operator flags', async (t) => {
  const redis = await startRedis({ args: ['--notify-keyspace-events', 'Elh'] });
  t.teardown(() => redis.close());
  const { store, logs } = makeStore(t, redis.url);
  await store.start();
  const now = await flags(redis.client());
  for (const flag of ['E', 'l', 'h', 'K', 'g', '$', 'x']) t.ok(now.includes(flag), `has ${flag} (${now})`);
  t.ok(logs.some((l) => l.msg.includes('enabled keyspace notifications')), 'says what it changed');
});

t.test('the least-privilege ACL user of docs/redis.md is enough', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.close());
  const admin = redis.client();
  // the line documented in docs/redis.md, with the prefix used here
  await admin.call(
    'ACL', 'SETUSER', 'portcullis', 'reset', 'on', '>s3cret', '~pc:*',
    '&__keyspace@0__:pc:s:{*', '&__keyspace@0__:pc:t:{*', '&__keyspace@0__:pc:probe:*',
    '+get', '+set', '+mget', '+del', '+exists', '+pexpire', '+pttl', '+sadd', '+srem', '+smembers', '+scan',
    '+zadd', '+zrem', '+zrange', '+zrangebyscore', '+zremrangebyscore',
    '+eval', '+evalsha', '+psubscribe', '+punsubscribe', '+ping', '+info', '+select', '+client|setname',
    '+config|get', '+config|set', '+quit',
  );
  const url = `redis://portcullis:s3cret@127.0.0.1:${redis.port}/0`;
  const a = makeStore(t, url);
  const b = makeStore(t, url);
  await Promise.all([a.store.start(), b.store.start()]);
  const record = makeRecord();
  await a.store.create(record);
  await until(() => b.store.peek(record.handle), 'B mirrors it');
  t.ok(await b.store.load(record.handle), 'load');
  await b.store.update(record.handle, (c) => ({ ...c, refreshable: false }));
  await b.store.touch(record.handle, Date.now() + 1000);
  t.equal((await a.store.listBySub(record.user.sub)).length, 1, 'listBySub');
  t.equal(await a.store.acquireLease('l', 'a', 1000), true, 'lease');
  await a.store.releaseLease('l', 'a');
  t.equal((await b.store.removeBySub(record.user.sub, 'operator')).length, 1, 'removeBySub');
  const errors = [...a.logs, ...b.logs].filter((l) => l.level >= 50);
  t.same(errors, [], 'no errors logged');
  t.same(await admin.call('ACL', 'LOG'), [], 'Redis refused nothing');
});

t.test('an ACL without the channel patterns: not up, the detail says PSUBSCRIBE was refused', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.close());
  await redis.client().call('ACL', 'SETUSER', 'narrow', 'reset', 'on', '>pw', '~pc:*', '&other:*', '+@all');
  const { store } = makeStore(t, `redis://narrow:pw@127.0.0.1:${redis.port}/0`);
  store.start().catch(() => undefined);
  const status = await until(() => (store.status().detail?.includes('PSUBSCRIBE') ? store.status() : undefined), 'the detail');
  t.match(status, { up: false, detail: /PSUBSCRIBE to __keyspace@0__:pc:s:\{\* .* refused: NOPERM/ });
});
