import t, { type Test } from 'tap';
import { runSessionsCommand } from '../../src/cli/sessions.js';
import { createLogger } from '../../src/observability/logger.js';
import { logCapture, openAcrossReplicas } from '../support/open-connections.js';
import { logout, metricSum, replicasOnRedis } from '../support/replicas.js';
import { eventually } from '../support/stack.js';

/**
 * Two replicas on one real Redis, a real IdP: a WebSocket open through replica A and an SSE
 * stream through replica B end when their session ends, however it ends; each end is one audit
 * line cluster-wide and one count in portcullis_logouts_total.
 */
const logs = logCapture();
const env = replicasOnRedis(t, { logLevel: 'info', logDestination: logs.destination });

const openBoth = (user: string) => openAcrossReplicas(env.stack, logs, user);

/** Both connections end: the WebSocket with Close 1008 and a reason, the stream cleanly. */
async function bothEnd(t: Test, open: Awaited<ReturnType<typeof openBoth>>, reason = 'session ended') {
  await eventually(() => open.ws.isClosed(), 5000);
  t.same(open.ws.closeFrame(), { code: 1008, reason }, 'the WebSocket got Close 1008 with a reason');
  t.equal(await open.sse.ended, 'end', 'the event stream ended');
}

async function counts() {
  const kinds = ['rp', 'backchannel', 'operator', 'expired', 'user'];
  const out: Record<string, number> = {};
  for (const kind of kinds) out[kind] = await metricSum(env.stack, 'portcullis_logouts_total', `kind="${kind}"`);
  out['closed_logout'] = await metricSum(env.stack, 'portcullis_connections_closed_total', 'reason="logout"');
  return out;
}

function oneEndLine(t: Test, session: string, fields: Record<string, unknown>) {
  const ended = logs.audit(session, 'session ended');
  t.equal(ended.length, 1, 'one "session ended" line cluster-wide');
  t.match(ended[0], { event: 'session_ended', ...fields });
  t.match(ended[0]?.['at'], /^\d{4}-\d\d-\d\dT/, 'with an ISO time');
  t.equal(logs.audit(session, 'session started').length, 1, 'and one "session started" line');
}

t.test('(a) logged out at the IdP: back-channel logout reaches replica A, both replicas close', async (t) => {
  const open = await openBoth('ann');
  const before = await counts();
  t.ok((await env.stack.idp!.backchannelLogout('ann')) >= 1, 'the IdP sent a logout token');
  await bothEnd(t, open);
  const after = await counts();
  t.equal(after['backchannel'], before['backchannel']! + 1, 'one back-channel logout counted');
  t.equal(after['closed_logout'], before['closed_logout']! + 2, 'two connections closed, counted where they were');
  oneEndLine(t, open.session, { user: 'ann', kind: 'backchannel', initiator: 'idp', replica: 'replica-0' });
});

t.test('(b) RP logout on replica B closes the WebSocket on replica A and the stream on B', async (t) => {
  const open = await openBoth('bob');
  const before = await counts();
  t.equal(await logout(env.stack.replicas[1]!.url, open.cookie), 303);
  await bothEnd(t, open);
  const after = await counts();
  t.equal(after['rp'], before['rp']! + 1, 'counted as rp, once');
  t.equal(after['user'], before['user'], 'not as user');
  oneEndLine(t, open.session, { user: 'bob', kind: 'rp', initiator: 'user', replica: 'replica-1' });
});

t.test('(c) an operator revokes with `sessions revoke`: the CLI logs it, a replica counts it', async (t) => {
  const open = await openBoth('cara');
  const before = await counts();
  const cli = logCapture();
  const out: string[] = [];
  const code = await runSessionsCommand(
    env.stack.replicas[0]!.config,
    { action: 'revoke', user: 'cara', all: false },
    { logger: createLogger({ level: 'silent' }), out: (line) => out.push(line), auditLogger: createLogger({ level: 'info', destination: cli.destination }) },
  );
  t.equal(code, 0);
  t.match(out.join('\n'), /revoked 1 session/);
  await bothEnd(t, open);
  t.equal(cli.audit(open.session, 'session ended').length, 1, 'the CLI wrote the audit line');
  t.match(cli.audit(open.session, 'session ended')[0], { user: 'cara', kind: 'operator', initiator: 'operator', replica: /^cli-/ });
  t.equal(logs.audit(open.session, 'session ended').length, 0, 'no replica wrote another');
  await eventually(async () => (await counts())['operator'] === before['operator']! + 1);
  t.pass('one operator logout counted across the replicas');
});

t.test('a record gone from Redis without a tombstone ends like an expiry, logged and counted once', async (t) => {
  const open = await openBoth('dora');
  const before = await counts();
  await env.redis.client().del(`portcullis:s:{${open.session}}`, `portcullis:k:{${open.session}}`);
  await bothEnd(t, open, 'session expired');
  await eventually(() => logs.audit(open.session, 'session ended').length === 1);
  oneEndLine(t, open.session, { user: 'dora', kind: 'expired', initiator: 'gateway' });
  t.equal((await counts())['expired'], before['expired']! + 1, 'one expiry counted across the replicas');
});

t.test('audit lines stay one per event', async (t) => {
  for (const user of ['ann', 'bob']) {
    const session = await logs.sessionOf(user);
    t.equal(logs.audit(session, 'session ended').length, 1, `${user}: one end line`);
  }
  t.notOk(
    logs.lines.some((l) => JSON.stringify(l).includes('_portcullis=')),
    'no cookie value in any log line',
  );
});
