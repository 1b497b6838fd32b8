import t from 'tap';
import { logout, metricSum, replicasOnRedis, signIn, statusOn } from '../support/replicas.js';
import { eventually } from '../support/stack.js';

/** Redis killed and restarted empty mid-test: sessions keep being served, the outage's logout lands. */
const env = replicasOnRedis(t);

t.test('outage and recovery', async (t) => {
  const [a, b] = env.stack.replicas;
  const stays = await signIn(env.stack, a!.url, 'alice');
  const leaves = await signIn(env.stack, b!.url, 'bob');
  for (const r of [a!, b!]) {
    t.equal(await statusOn(r.url, stays), 200);
    t.equal(await statusOn(r.url, leaves), 200);
  }

  await env.redis.stop();
  await eventually(async () => (await metricSum(env.stack, 'portcullis_store_up')) === 0, 10_000);
  for (const r of [a!, b!]) {
    t.equal(await statusOn(r.url, stays), 200, 'sessions in memory keep being served during the outage');
    const ready = await fetch(`${r.adminUrl}/readyz`);
    t.equal(ready.status, 200, 'readiness stays 200 once ready');
    t.match(await ready.json(), { store: 'degraded' });
  }

  t.ok([302, 303].includes(await logout(a!.url, leaves)), 'logout during the outage');
  t.equal(await statusOn(a!.url, leaves), 401, 'takes effect locally at once');

  const fresh = env.stack.browser();
  const attempt = await fresh.login(`${b!.url}/`, 'carol');
  t.equal(attempt.status, 503, 'a new login during the outage gets a clear 503');

  await env.redis.restart();
  const started = Date.now();
  await eventually(async () => (await metricSum(env.stack, 'portcullis_store_up')) === 2, 15_000);
  await eventually(async () => (await statusOn(b!.url, leaves)) === 401, 10_000);
  t.comment(`after Redis returned, the outage's logout reached B in ${Date.now() - started} ms`);
  for (const r of [a!, b!]) {
    t.equal(await statusOn(r.url, stays), 200, 'the untouched session survives the empty restart');
    t.equal(await statusOn(r.url, leaves), 401, 'replicas agree on the logout');
  }
  const again = await signIn(env.stack, b!.url, 'carol');
  t.equal(await statusOn(a!.url, again), 200, 'logins work again and reach the other replica');
});
