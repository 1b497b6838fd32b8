import t from 'tap';
import { startStack, type Stack } from '../support/stack.js';

/** Idle timeout, sliding renewal and absolute lifetime through a real gateway, with a moved clock. */
const MINUTE = 60_000;
let offset = 0;
const clock = { now: () => Date.now() + offset };
let stack: Stack;
t.before(async () => {
  stack = await startStack({ clock, config: () => ({ session: { idle_timeout: '30m', lifetime: '2h' } }) });
});
t.teardown(() => stack.close());

async function api(cookie: string) {
  const res = await fetch(`${stack.url}/x`, { headers: { cookie: `_portcullis=${cookie}`, accept: 'application/json' } });
  await res.arrayBuffer();
  return { status: res.status, setCookie: res.headers.getSetCookie() };
}

t.test('sliding renewal only when the remaining lifetime warrants it; idle and absolute expiry', async (t) => {
  offset = 0;
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'alice');
  const cookie = browser.cookie('_portcullis')!;

  offset = 5 * MINUTE;
  const early = await api(cookie);
  t.equal(early.status, 200);
  t.same(early.setCookie, [], 'no Set-Cookie early in the idle window');

  offset = 20 * MINUTE;
  const renewed = await api(cookie);
  t.equal(renewed.status, 200);
  const header = renewed.setCookie.find((c) => c.startsWith('_portcullis='));
  t.ok(header, 'past half the idle window the cookie is renewed');
  t.match(header, /Max-Age=(\d+)/);
  t.match(header, /HttpOnly/);
  const fresh = /^_portcullis=([^;]+)/.exec(header!)![1]!;

  offset = 25 * MINUTE;
  t.same((await api(fresh)).setCookie, [], 'not renewed again right away');

  offset = 25 * MINUTE + 31 * MINUTE;
  t.equal((await api(fresh)).status, 401, 'idle for longer than idle_timeout: the session is over');
});

t.test('the absolute lifetime ends an active session', async (t) => {
  offset = 0;
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'bob');
  let cookie = browser.cookie('_portcullis')!;
  // active every 20 minutes: idle never runs out, the absolute lifetime (2h) does
  for (let minutes = 20; minutes < 120; minutes += 20) {
    offset = minutes * MINUTE;
    const res = await api(cookie);
    t.equal(res.status, 200, `active at ${minutes} min`);
    const renewed = res.setCookie.find((c) => c.startsWith('_portcullis='));
    if (renewed) cookie = /^_portcullis=([^;]+)/.exec(renewed)![1]!;
  }
  offset = 121 * MINUTE;
  t.equal((await api(cookie)).status, 401, 'past the absolute lifetime');
});
