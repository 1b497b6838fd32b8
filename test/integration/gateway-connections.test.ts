import t, { type Test } from 'tap';
import { logCapture, openEvents, openSessionSocket } from '../support/open-connections.js';
import { logout } from '../support/replicas.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

/**
 * One gateway on the memory store, a real IdP and upstream: open WebSockets and event streams end
 * with their session (sign-out, the user's own page, idle expiry) and when a reloaded policy no
 * longer admits them; each end is one audit line and one count.
 */
async function metric(stack: Stack, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${stack.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

async function signedIn(stack: Stack, user: string) {
  const browser = stack.browser();
  const page = await browser.login(`${stack.url}/`, user);
  if (page.status !== 200) throw new Error(`sign-in ended with ${page.status}`);
  const cookie = browser.cookie('_portcullis')!;
  const ws = await openSessionSocket(`${stack.url}/ws`, cookie);
  const sse = await openEvents(`${stack.url}/events?__sse=1`, cookie);
  return { browser, cookie, ws, sse };
}

async function bothEnd(t: Test, open: Awaited<ReturnType<typeof signedIn>>, reason: string) {
  await eventually(() => open.ws.isClosed(), 10_000);
  t.same(open.ws.closeFrame(), { code: 1008, reason }, `Close 1008 "${reason}"`);
  t.equal(await open.sse.ended, 'end', 'the event stream ended');
}

t.test('sign-out, the user page and a policy reload', async (t) => {
  let policy = 'everyone';
  const logs = logCapture();
  const stack = await startStack({
    logLevel: 'info',
    logDestination: logs.destination,
    reloadable: true,
    routes: ({ url, upstream }) => [{ from: url, to: upstream.url, policy, websockets: true }],
  });
  t.teardown(() => stack.close());

  t.test('POST /.portcullis/logout: counted as rp, one audit line', async (t) => {
    const open = await signedIn(stack, 'alice');
    const session = await logs.sessionOf('alice');
    const before = await metric(stack, 'portcullis_logouts_total', 'kind="rp"');
    t.equal(await logout(stack.url, open.cookie), 303);
    await bothEnd(t, open, 'session ended');
    t.equal(await metric(stack, 'portcullis_logouts_total', 'kind="rp"'), before + 1);
    t.equal(logs.audit(session, 'session ended').length, 1);
    t.match(logs.audit(session, 'session ended')[0], { kind: 'rp', initiator: 'user', user: 'alice', replica: 'replica-0' });
  });

  t.test('ending a session on the sessions API closes its connections; counted as user', async (t) => {
    const phone = await signedIn(stack, 'bob');
    const session = await logs.sessionOf('bob');
    const laptop = stack.browser();
    await laptop.login(`${stack.url}/`, 'bob');
    const before = await metric(stack, 'portcullis_logouts_total', 'kind="user"');
    const ended = await laptop.request(`${stack.url}/.portcullis/sessions/${session}`, { method: 'DELETE', initiator: `${stack.url}/` });
    t.equal(ended.status, 204);
    await bothEnd(t, phone, 'session ended');
    t.equal(await metric(stack, 'portcullis_logouts_total', 'kind="user"'), before + 1);
    t.match(logs.audit(session, 'session ended'), [{ kind: 'user', initiator: 'user', user: 'bob' }]);
    t.equal(logs.audit(session, 'session ended').length, 1);
  });

  t.test('a reload whose policy denies an open connection closes it with "policy"; the allowed stay', async (t) => {
    const staff = await signedIn(stack, 'carol');
    const admin = await signedIn(stack, 'admin');
    const before = await metric(stack, 'portcullis_connections_closed_total', 'reason="policy"');
    policy = 'admins';
    t.teardown(() => {
      policy = 'everyone';
    });
    t.match(await stack.replicas[0]!.gateway.reload('test'), { ok: true });
    await bothEnd(t, staff, 'policy');
    // judged during the reload itself: what it did not close by now, it left open
    t.equal(await metric(stack, 'portcullis_connections_closed_total', 'reason="policy"'), before + 2, "only carol's two");
    t.notOk(admin.ws.isClosed(), "the admin's WebSocket stays open");
    admin.ws.socket.destroy();
    admin.sse.abort();
    policy = 'everyone';
    await stack.replicas[0]!.gateway.reload('test');
  });
});

t.test('idle expiry on the memory store closes them, logged and counted once', async (t) => {
  const logs = logCapture();
  const stack = await startStack({ logLevel: 'info', logDestination: logs.destination, config: () => ({ session: { idle_timeout: '3s' } }) });
  t.teardown(() => stack.close());
  const before = await metric(stack, 'portcullis_logouts_total', 'kind="expired"');
  const open = await signedIn(stack, 'dana');
  const session = await logs.sessionOf('dana');
  await bothEnd(t, open, 'session expired');
  await eventually(() => logs.audit(session, 'session ended').length === 1);
  t.match(logs.audit(session, 'session ended')[0], { kind: 'expired', initiator: 'gateway', user: 'dana' });
  t.equal(await metric(stack, 'portcullis_logouts_total', 'kind="expired"'), before + 1);
  t.equal(await metric(stack, 'portcullis_connections_closed_total', 'reason="expired"'), 2);
});
