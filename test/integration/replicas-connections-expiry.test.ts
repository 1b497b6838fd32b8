import t from 'tap';
import { logCapture, openAcrossReplicas } from '../support/open-connections.js';
import { metricSum, replicasOnRedis } from '../support/replicas.js';
import { eventually } from '../support/stack.js';
import { clientFrame } from '../support/websocket.js';

/**
 * Ends nobody asks for, on two replicas and one real Redis: idle expiry (Redis TTL, its keyspace
 * event, and each replica's sweep), and a refresh the IdP refuses. Client frames on a WebSocket
 * count as activity; a stream that only receives does not.
 */
const IDLE = '4s';
const logs = logCapture();
const env = replicasOnRedis(t, {
  logLevel: 'info',
  logDestination: logs.destination,
  // a refresh is due about a second after sign-in
  idp: { accessTokenTtlSeconds: 5 },
  config: () => ({ session: { idle_timeout: IDLE, refresh_ahead: '4s' } }),
});

const openBoth = (user: string) => openAcrossReplicas(env.stack, logs, user);

/** Sends a client text frame every 300 ms until stopped (a user typing into a live page). */
function chatter(socket: { socket: { write(b: Buffer): unknown } }) {
  const timer = setInterval(() => socket.socket.write(clientFrame(Buffer.from('ping from the user'))), 300);
  return () => clearInterval(timer);
}

const metric = (name: string, labels: string) => metricSum(env.stack, name, labels);

t.test('(d) client frames keep the session alive past idle_timeout; once they stop, it idles out everywhere', async (t) => {
  const open = await openBoth('ida');
  const closedBefore = await metric('portcullis_connections_closed_total', 'reason="expired"');
  const expiredBefore = await metric('portcullis_logouts_total', 'kind="expired"');
  const stop = chatter(open.ws);
  // longer than idle_timeout with no request at all: only the WebSocket's frames touch the session
  const until = Date.now() + 1.75 * 4000;
  await eventually(() => Date.now() > until, 10_000, 100);
  stop();
  t.notOk(open.ws.isClosed(), 'the WebSocket on A stayed open while the user sent frames');
  t.notMatch(await Promise.race([open.sse.ended, Promise.resolve('open')]), 'end', 'the stream on B too: same session');

  await eventually(() => open.ws.isClosed(), 15_000);
  t.same(open.ws.closeFrame(), { code: 1008, reason: 'session expired' });
  t.equal(await open.sse.ended, 'end', 'the stream on B ended');
  await eventually(() => logs.audit(open.session, 'session ended').length === 1);
  t.match(logs.audit(open.session, 'session ended')[0], { kind: 'expired', initiator: 'gateway', user: 'ida' });
  t.equal(await metric('portcullis_logouts_total', 'kind="expired"'), expiredBefore + 1, 'one expiry counted across the replicas');
  t.equal(await metric('portcullis_connections_closed_total', 'reason="expired"'), closedBefore + 2);
  t.equal(logs.audit(open.session, 'session ended').length, 1, 'still one audit line');
});

t.test('a refresh the IdP refuses ends the session and its connections on both replicas', async (t) => {
  const open = await openBoth('rita');
  const stop = chatter(open.ws); // stays active: only the refusal may end it
  t.teardown(stop);
  const revokedBefore = await metric('portcullis_logouts_total', 'kind="revoked"');
  t.ok(env.stack.idp!.revokeGrants('rita') >= 1, 'the IdP revoked the grant');
  await eventually(() => open.ws.isClosed(), 15_000);
  t.same(open.ws.closeFrame(), { code: 1008, reason: 'session ended' });
  t.equal(await open.sse.ended, 'end');
  await eventually(() => logs.audit(open.session, 'session ended').length === 1);
  t.match(logs.audit(open.session, 'session ended')[0], { kind: 'revoked', initiator: 'idp', user: 'rita' });
  t.equal(await metric('portcullis_logouts_total', 'kind="revoked"'), revokedBefore + 1);
});
