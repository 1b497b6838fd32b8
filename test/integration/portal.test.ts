import t from 'tap';
import { startStack, type Stack } from '../support/stack.js';

/** The user's own endpoints: userinfo, their sessions, ending one, the portal page. */
let stack: Stack;
t.before(async () => {
  stack = await startStack();
});
t.teardown(() => stack.close());

t.test('userinfo, sessions, and ending another session of mine', async (t) => {
  const laptop = stack.browser();
  laptop.userAgent = 'laptop-browser';
  await laptop.login(`${stack.url}/`, 'alice');
  const phone = stack.browser();
  phone.userAgent = 'phone-browser';
  await phone.login(`${stack.url}/`, 'alice');
  const stranger = stack.browser();
  await stranger.login(`${stack.url}/`, 'mallory');

  const info = await laptop.get(`${stack.url}/.portcullis/userinfo`, { headers: { accept: 'application/json' } });
  t.equal(info.status, 200);
  const me = JSON.parse(info.body);
  t.match(me, { sub: 'alice', email: 'alice@example.com', groups: ['staff'] });
  t.equal(info.headers.get('cache-control'), 'no-store');

  const anonymous = await fetch(`${stack.url}/.portcullis/userinfo`, { headers: { accept: 'application/json' } });
  t.equal(anonymous.status, 401);

  const list = JSON.parse((await laptop.get(`${stack.url}/.portcullis/sessions`)).body) as { sessions: Array<{ id: string; current: boolean; user_agent: string }> };
  t.equal(list.sessions.length, 2, 'only my sessions');
  const phoneSession = list.sessions.find((s) => s.user_agent === 'phone-browser')!;
  t.notOk(phoneSession.current);
  t.ok(list.sessions.find((s) => s.user_agent === 'laptop-browser')?.current);

  const mallorys = JSON.parse((await stranger.get(`${stack.url}/.portcullis/sessions`)).body) as { sessions: Array<{ id: string }> };
  const notMine = await laptop.request(`${stack.url}/.portcullis/sessions/${mallorys.sessions[0]!.id}`, { method: 'DELETE', initiator: `${stack.url}/` });
  t.equal(notMine.status, 404, "another user's session cannot be ended");

  const crossSite = await laptop.request(`${stack.url}/.portcullis/sessions/${phoneSession.id}`, { method: 'DELETE', initiator: 'https://evil.example/' });
  t.equal(crossSite.status, 403);
  t.equal((await phone.get(`${stack.url}/`)).status, 200, 'survives a cross-site attempt');

  const ended = await laptop.request(`${stack.url}/.portcullis/sessions/${phoneSession.id}`, { method: 'DELETE', initiator: `${stack.url}/` });
  t.equal(ended.status, 204);
  const phoneNow = await phone.request(`${stack.url}/`, { headers: { accept: 'application/json' } });
  t.equal(phoneNow.status, 401, 'the phone is signed out');
  t.equal((await laptop.get(`${stack.url}/`)).status, 200, 'the laptop is not');
  t.equal((await stranger.get(`${stack.url}/`)).status, 200);

  const bad = await laptop.request(`${stack.url}/.portcullis/sessions/${'x'.repeat(200)}`, { method: 'DELETE', initiator: `${stack.url}/` });
  t.ok(bad.status === 404 || bad.status === 400);
  const wrongMethod = await laptop.request(`${stack.url}/.portcullis/userinfo`, { method: 'PUT', initiator: `${stack.url}/` });
  t.equal(wrongMethod.status, 405);
});

t.test('the portal page shows who I am and my sessions, with sign out', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'bob');
  const page = await browser.get(`${stack.url}/.portcullis/`);
  t.equal(page.status, 200);
  t.match(page.body, /bob@example\.com/);
  t.match(page.body, /action="\/\.portcullis\/logout"/);
  t.match(page.headers.get('content-security-policy'), /default-src 'none'/);
  const anonymous = await stack.browser().get(`${stack.url}/.portcullis/`);
  t.equal(anonymous.status, 302);
  const unknown = await browser.get(`${stack.url}/.portcullis/nope`);
  t.equal(unknown.status, 404);
});
