import t from 'tap';
import { newSessionId } from '../../src/session/ids.js';
import { createSessionCookies } from '../../src/session/session-cookies.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { logout, metricSum, signIn, statusOn } from '../support/replicas.js';
import { COOKIE_SECRET, eventually, startStack, type Stack } from '../support/stack.js';

/**
 * During a Redis outage, thousands of sign-outs with stale cookies (sessions nobody knows) must
 * not push a real logout out of the bounded outage queue: when Redis returns, the real logout
 * reaches the other replica. The queue is kept tiny here so that a single junk entry would show.
 */
const QUEUE_LIMIT = 3;
let redis: RedisServer;
let stack: Stack;
t.before(async () => {
  redis = await startRedis();
  stack = await startStack({
    replicas: 2,
    store: { kind: 'redis', url: redis.url },
    config: () => ({ session: { store: 'redis', redis: { url: redis.url, key_prefix: 'portcullis:', outage_queue_limit: QUEUE_LIMIT } } }),
  });
  await eventually(() => stack.replicas.every((r) => r.gateway.isReady()), 10_000);
});
t.teardown(async () => {
  await stack?.close();
  await redis?.close();
});

/** Validly signed gateway cookies for sessions that never existed. */
function strangerCookies(count: number): string[] {
  const cookies = createSessionCookies({ name: '_portcullis', secret: COOKIE_SECRET, domain: '', secure: false, sameSite: 'lax' });
  return Array.from({ length: count }, () => /^_portcullis=([^;]+)/.exec(cookies.issue(newSessionId(), Date.now(), 3600))![1]!);
}

async function signOutMany(url: string, cookies: string[], total: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const cookie = cookies[next++ % cookies.length]!;
      const status = await logout(url, cookie);
      if (status !== 302 && status !== 303) throw new Error(`sign-out answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

t.test('a flood of stale sign-outs during an outage does not lose the real logout', async (t) => {
  const [a, b] = stack.replicas;
  const stale = await signIn(stack, a!.url, 'mallory');
  t.ok([302, 303].includes(await logout(a!.url, stale)), 'signed out before the outage: a stale cookie now');
  const victim = await signIn(stack, b!.url, 'victim');
  const bystanders = [await signIn(stack, a!.url, 'walter'), await signIn(stack, b!.url, 'xena')];
  await eventually(async () => (await statusOn(a!.url, victim)) === 200 && (await statusOn(b!.url, bystanders[0]!)) === 200);

  await redis.stop();
  await eventually(async () => (await metricSum(stack, 'portcullis_store_up')) === 0, 10_000);
  const junk = [stale, ...strangerCookies(40)];
  let mark = Date.now();
  await signOutMany(a!.url, junk, 1500);
  t.comment(`1500 stale sign-outs took ${Date.now() - mark} ms`);
  t.ok([302, 303].includes(await logout(a!.url, victim)), 'the real logout, on A');
  t.equal(await statusOn(a!.url, victim), 401, 'effective on A at once');
  await signOutMany(a!.url, junk, 500);
  t.equal(await statusOn(b!.url, victim), 200, 'B cannot know yet (Redis is away)');

  mark = Date.now();
  await redis.restart();
  await eventually(async () => (await metricSum(stack, 'portcullis_store_up')) === 2, 15_000);
  await eventually(async () => (await statusOn(b!.url, victim)) === 401, 10_000);
  t.pass('the real logout reached B');
  t.comment(`recovery took ${Date.now() - mark} ms`);
  t.equal(await statusOn(a!.url, victim), 401, 'and stays on A');
  for (const cookie of bystanders) {
    t.equal(await statusOn(a!.url, cookie), 200, 'sessions nobody signed out live on (A)');
    t.equal(await statusOn(b!.url, cookie), 200, 'sessions nobody signed out live on (B)');
  }
  const tombstones = await redis.client().keys('portcullis:t:*');
  t.ok(tombstones.length <= QUEUE_LIMIT + 1, `the stale sign-outs wrote nothing to Redis (${tombstones.length} tombstones)`);
});
