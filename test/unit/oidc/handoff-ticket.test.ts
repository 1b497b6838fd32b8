import t from 'tap';
import { createHandoffTickets, handoffCompleteUrl } from '../../../src/oidc/handoff-ticket.js';
import { newSessionId } from '../../../src/session/ids.js';

const SECRET = 'a-test-cookie-secret-that-is-long-enough-0123456789';

function setup(start = 1_700_000_000_000) {
  const clock = { now: () => start };
  return { clock, tickets: createHandoffTickets({ secret: SECRET, clock }) };
}

t.test('a ticket opens to what it was issued for, and hides the session id', async (t) => {
  const { tickets } = setup();
  const sessionId = newSessionId();
  const value = await tickets.issue({ sessionId, origin: 'https://app.other.org', returnTo: 'https://app.other.org/x?y=1', nonce: 'n1' });
  t.notOk(value.includes(sessionId), 'encrypted, not just signed');
  t.match(value, /^[A-Za-z0-9_.-]+$/, 'URL-safe as it is');
  const opened = await tickets.open(value);
  t.match(opened, { sessionId, origin: 'https://app.other.org', returnTo: 'https://app.other.org/x?y=1', nonce: 'n1' });
  t.equal(opened!.jti.length, 43, 'a 256-bit random id for the single-use claim');
  const again = await tickets.open(await tickets.issue({ sessionId, origin: 'https://app.other.org', returnTo: 'https://app.other.org/', nonce: 'n2' }));
  t.not(again!.jti, opened!.jti);
});

t.test('expired, tampered, foreign or garbage tickets do not open', async (t) => {
  const { clock, tickets } = setup();
  const value = await tickets.issue({ sessionId: newSessionId(), origin: 'https://a.test', returnTo: 'https://a.test/', nonce: 'n3' });
  const other = createHandoffTickets({ secret: `${SECRET}-other`, clock });
  t.equal(await other.open(value), undefined, 'another secret');
  const parts = value.split('.');
  parts[3] = `${parts[3]!.slice(0, -2)}AA`;
  t.equal(await tickets.open(parts.join('.')), undefined, 'tampered');
  for (const garbage of ['', 'x', 'a.b.c.d.e', 'x'.repeat(10_000)]) t.equal(await tickets.open(garbage), undefined, garbage.slice(0, 10));
  clock.now = () => 1_700_000_000_000 + tickets.ttlMs + 1000;
  t.equal(await tickets.open(value), undefined, 'expired after its few seconds');
});

t.test('the completion URL is on the return address\'s own origin', async (t) => {
  const { tickets } = setup();
  const url = new URL(await handoffCompleteUrl(tickets, newSessionId(), new URL('http://127.0.0.2:8080/app?q=1'), 'n4'));
  t.equal(url.origin, 'http://127.0.0.2:8080');
  t.equal(url.pathname, '/.portcullis/handoff/complete');
  t.same([...url.searchParams.keys()], ['ticket']);
});
