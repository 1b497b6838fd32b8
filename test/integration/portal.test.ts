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

t.test('GET /.portcullis/sessions: devices, addresses, times and apps, and never a token or the cookie', async (t) => {
  const laptop = stack.browser();
  laptop.userAgent = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
  await laptop.login(`${stack.url}/`, 'dave');
  const phone = stack.browser();
  phone.userAgent = `junk-agent ${'x'.repeat(2000)}`;
  await phone.login(`${stack.url}/`, 'dave');

  const res = await laptop.get(`${stack.url}/.portcullis/sessions`, { headers: { accept: 'application/json' } });
  t.equal(res.status, 200);
  t.equal(res.headers.get('cache-control'), 'no-store');
  const body = JSON.parse(res.body) as {
    sessions: Array<Record<string, unknown>>;
    apps: Array<{ name: string; url?: string; public: boolean }>;
  };
  t.equal(body.sessions.length, 2);
  const [first, second] = body.sessions;
  t.match(first, { current: true, device: 'Chrome 130 on macOS', ip: '127.0.0.1', created_at: String, last_seen_at: String, expires_at: String });
  t.ok(Date.parse(first!.created_at as string));
  t.match(second, { current: false, device: null, ip: '127.0.0.1' }, 'an unreadable user agent has no device name');
  t.equal((second!.user_agent as string).length, 256, 'the stored user agent is bounded');
  t.same(Object.keys(first!).sort(), ['created_at', 'current', 'device', 'expires_at', 'id', 'ip', 'last_seen_at', 'user_agent'], 'exactly these fields');
  t.same(body.apps, [{ name: stack.url, url: `${stack.url}/`, public: false }], 'the app dave may open');

  // the id is the public handle: not the cookie value, nor anything a cookie is made from
  const cookie = laptop.cookie('_portcullis')!;
  for (const session of body.sessions) t.notOk(cookie.includes(session.id as string), 'the id is not part of the cookie');
  t.notOk(res.body.includes(cookie), 'the cookie value is not in the answer');
  t.notMatch(res.body, /token|secret|eyJ/i, 'nothing token-like');
  const page = await laptop.get(`${stack.url}/.portcullis/`);
  t.notOk(page.body.includes(cookie), 'nor on the page');
  t.notMatch(page.body, /eyJ|access_token|refresh_token|id_token/);
});

t.test('sign out of all other devices and everywhere, as forms post them', async (t) => {
  const mine = stack.browser();
  await mine.login(`${stack.url}/`, 'erin');
  const other = stack.browser();
  await other.login(`${stack.url}/`, 'erin');
  const third = stack.browser();
  await third.login(`${stack.url}/`, 'erin');

  const crossSite = await mine.request(`${stack.url}/.portcullis/sessions/end-others`, { method: 'POST', initiator: 'https://evil.example/' });
  t.equal(crossSite.status, 403, 'cross-site: refused');
  t.equal((await other.get(`${stack.url}/`)).status, 200);

  const page = await mine.get(`${stack.url}/.portcullis/`);
  const ended = await mine.submit(page, {}, '/end-others');
  t.equal(ended.status, 303);
  t.equal(ended.location, `${stack.url}/.portcullis/`);
  t.equal((await other.get(`${stack.url}/`, { headers: { accept: 'application/json' } })).status, 401);
  t.equal((await third.get(`${stack.url}/`, { headers: { accept: 'application/json' } })).status, 401);
  t.equal((await mine.get(`${stack.url}/`)).status, 200, 'this one lives on');

  const fourth = stack.browser();
  await fourth.login(`${stack.url}/`, 'erin');
  const everywhere = await mine.submit(await mine.get(`${stack.url}/.portcullis/`), {}, '/end-all');
  t.equal(everywhere.status, 303);
  t.match(everywhere.location, new RegExp(`^${stack.issuer}/`), 'then to the IdP to sign out there too');
  t.ok(everywhere.setCookies.some((c) => c.startsWith('_portcullis=;')), 'this cookie is deleted');
  t.equal((await fourth.get(`${stack.url}/`, { headers: { accept: 'application/json' } })).status, 401);
  t.equal((await mine.get(`${stack.url}/`, { headers: { accept: 'application/json' } })).status, 401);

  const anonymous = await stack.browser().request(`${stack.url}/.portcullis/sessions/end-others`, { method: 'POST', initiator: `${stack.url}/` });
  t.equal(anonymous.status, 401, 'no session: sign-in required, nothing ended');
});
