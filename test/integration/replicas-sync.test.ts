import t from 'tap';
import { logout, metricSum, replicasOnRedis, signIn, statusOn } from '../support/replicas.js';
import { eventually } from '../support/stack.js';

/** Two gateway replicas on one real Redis: sign in on one, use the other; logout ends it everywhere. */
const env = replicasOnRedis(t);

t.test('a session made on one replica is known to the other', async (t) => {
  const [a, b] = env.stack.replicas;
  const cookie = await signIn(env.stack, a!.url, 'alice');
  t.equal(await statusOn(b!.url, cookie), 200);
  t.equal(env.stack.upstream.last()?.headers['x-portcullis-user'], 'alice');
  const keys = await env.redis.client().keys('portcullis:*');
  t.ok(keys.length > 0, 'the session is in Redis');
  const dump = (await Promise.all(keys.map(async (k) => {
    const type = await env.redis.client().type(k);
    if (type === 'string') return (await env.redis.client().get(k)) ?? '';
    if (type === 'hash') return JSON.stringify(await env.redis.client().hgetall(k));
    if (type === 'set') return (await env.redis.client().smembers(k)).join(',');
    return '';
  }))).join('\n');
  t.notMatch(dump, /eyJ[A-Za-z0-9_-]{10,}\./, 'no JWT (id token) in plaintext in Redis');
  t.notOk(dump.includes(cookie.split('.')[1]!), 'the secret session id is not a Redis key or value');
});

t.test('a logout on one replica is refused on the other within a bounded time', async (t) => {
  const [a, b] = env.stack.replicas;
  const cookie = await signIn(env.stack, a!.url, 'bob');
  const other = await signIn(env.stack, a!.url, 'bob');
  t.equal(await statusOn(b!.url, cookie), 200, 'B knows the session (now in its mirror)');
  const started = Date.now();
  t.ok([302, 303].includes(await logout(a!.url, cookie)));
  t.equal(await statusOn(a!.url, cookie), 401, 'refused at once where the logout happened');
  await eventually(async () => (await statusOn(b!.url, cookie)) === 401, 5000, 5);
  const elapsed = Date.now() - started;
  t.comment(`logout on A was refused on B after ${elapsed} ms`);
  t.ok(elapsed < 5000);
  t.equal(await statusOn(b!.url, other), 200, "the user's other session lives on: logout is per session");
  t.ok((await metricSum(env.stack, 'portcullis_session_sync_events_total', 'event="tombstone"')) >= 1, 'B counted the tombstone');
});

t.test('back-channel logout from the IdP ends exactly that IdP session on both replicas', async (t) => {
  const [a, b] = env.stack.replicas;
  const first = await signIn(env.stack, a!.url, 'carol');
  const second = await signIn(env.stack, b!.url, 'carol');
  const idp = env.stack.idp!;
  const sessions = idp.entries('Session').filter((e) => e.payload.accountId === 'carol');
  t.equal(sessions.length, 2, 'two IdP sessions (two browsers)');
  // log out the IdP session behind the first browser only
  const target = sessions[0]!;
  const authorizations = target.payload.authorizations as Record<string, { sid: string }>;
  const client = await idp.provider.Client.find('portcullis');
  await client!.backchannelLogout('carol', Object.values(authorizations)[0]!.sid);
  const ended = await eventually(async () => {
    const s1 = [await statusOn(a!.url, first), await statusOn(b!.url, first)];
    const s2 = [await statusOn(a!.url, second), await statusOn(b!.url, second)];
    const dead = [s1, s2].filter((s) => s[0] === 401 && s[1] === 401).length;
    return dead === 1 ? { s1, s2 } : undefined;
  }, 5000);
  t.ok(ended, 'one session ended on both replicas');
  t.ok(
    (ended!.s1[0] === 200 && ended!.s1[1] === 200) || (ended!.s2[0] === 200 && ended!.s2[1] === 200),
    'the other IdP session of the same user lives on',
  );
  t.ok((await metricSum(env.stack, 'portcullis_logouts_total', 'kind="backchannel"')) >= 1);
});

t.test('an operator revoking a user ends every session of that user on both replicas', async (t) => {
  const [a, b] = env.stack.replicas;
  const one = await signIn(env.stack, a!.url, 'dave');
  const two = await signIn(env.stack, b!.url, 'dave');
  const bystander = await signIn(env.stack, b!.url, 'erin');
  const { runSessionsCommand } = await import('../../src/cli/sessions.js');
  const lines: string[] = [];
  const code = await runSessionsCommand(a!.config, { action: 'revoke', user: 'dave', all: false }, { logger: a!.gateway.logger, out: (l) => lines.push(l) });
  t.equal(code, 0);
  t.match(lines.join('\n'), /revoked 2 session/);
  await eventually(async () => (await statusOn(a!.url, one)) === 401 && (await statusOn(b!.url, two)) === 401 && (await statusOn(b!.url, one)) === 401, 5000);
  t.equal(await statusOn(a!.url, bystander), 200);
  const listed: string[] = [];
  await runSessionsCommand(a!.config, { action: 'list', all: true }, { logger: a!.gateway.logger, out: (l) => listed.push(l) });
  t.notMatch(listed.join('\n'), /\tdave\t/);
  t.match(listed.join('\n'), /\terin\t/);
});
