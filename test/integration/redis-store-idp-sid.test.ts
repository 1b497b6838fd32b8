import t from 'tap';
import { digest, randomToken } from '../../src/lib/random.js';
import { IdpSessionEndedError } from '../../src/session/store.js';
import { startRedis } from '../support/redis-server.js';
import { makeRecord, makeStore, until } from '../support/redis-store-fixture.js';

/**
 * What the Redis store keeps for back-channel logout, as Redis holds it: one-time claims under
 * hashed keys, an ended IdP sid, and the tombstone a create in flight finds (redis-removals.ts).
 */
const redis = await startRedis();
t.teardown(() => redis.close());

t.test('a one-time claim is one SET NX PX under a hashed key; a second replica sees it', async (t) => {
  const a = makeStore(t, redis.url);
  const b = makeStore(t, redis.url);
  await Promise.all([a.store.start(), b.store.start()]);
  const jti = `jti-${randomToken(8)}`;
  const name = `backchannel-logout\0https://idp.example\0${jti}`;
  t.equal(await a.store.claimOnce(name, 60_000), true);
  t.equal(await b.store.claimOnce(name, 60_000), false, 'the other replica refuses the replay');
  t.equal(await a.store.claimOnce(name, 60_000), false, 'and so does the first');
  const raw = redis.client();
  const key = `pc:o:${digest(name)}`;
  t.equal(await raw.exists(key), 1, 'stored under the digest of the name');
  const ttl = await raw.pttl(key);
  t.ok(ttl > 55_000 && ttl <= 60_000, `with the claim's ttl (${ttl} ms)`);
  t.same((await raw.keys('pc:*')).filter((k) => k.includes(jti)), [], 'the jti itself is no key');
});

t.test('ending an IdP sid marks it for the refusal time; a create already in the index meets a tombstone', async (t) => {
  const { store } = makeStore(t, redis.url);
  await store.start();
  const sid = `sid-${randomToken(6)}`;
  const raw = redis.client();
  // a create in flight: its handle is in the sid index (written first), its record not yet
  const inFlight = makeRecord({ idpSid: sid });
  await raw.sadd(`pc:i:${digest(sid)}`, inFlight.handle);
  t.same(await store.removeByIdpSid(sid, 'backchannel', { refuseNewForMs: 120_000 }), [], 'nothing live ended');
  const mark = `pc:e:${digest(sid)}`;
  t.equal(await raw.exists(mark), 1, 'the sid is marked ended');
  t.ok((await raw.pttl(mark)) > 115_000, 'for the refusal time');
  t.match(JSON.parse((await raw.get(`pc:t:{${inFlight.handle}}`))!), { handle: inFlight.handle, idpSid: sid, reason: 'backchannel' }, 'the in-flight handle is tombstoned');
  // the create script alone (the mark gone) would still refuse: the tombstone holds
  await raw.del(mark);
  await t.rejects(store.create(inFlight), 'refused by its tombstone');
  t.equal(await raw.exists(`pc:s:{${inFlight.handle}}`), 0, 'no record written');
  await raw.set(mark, '1', 'PX', 60_000);
  await t.rejects(store.create(makeRecord({ idpSid: sid })), IdpSessionEndedError, 'a later create is refused by the mark');
});

t.test('while Redis is away, the ended sid holds on this replica and is marked when Redis returns', async (t) => {
  const local = await startRedis();
  t.teardown(() => local.close());
  const { store } = makeStore(t, local.url);
  await store.start();
  const sid = `sid-${randomToken(6)}`;
  const record = makeRecord({ idpSid: sid });
  await store.create(record);
  await local.stop();
  await until(() => !store.status().up, 'down');
  const ended = await store.removeByIdpSid(sid, 'backchannel', { refuseNewForMs: 120_000 });
  t.same(ended.map((x) => x.handle), [record.handle], 'ended locally at once');
  t.equal(await store.claimOnce('during-outage', 60_000), true, 'claims work on this replica');
  t.equal(await store.claimOnce('during-outage', 60_000), false, 'and refuse a replay to it');
  await local.restart();
  await until(() => store.status().up, 'up again', 15_000);
  t.equal(await local.client().exists(`pc:e:${digest(sid)}`), 1, 'the mark was written after the outage');
  await t.rejects(store.create(makeRecord({ idpSid: sid })), IdpSessionEndedError);
});
