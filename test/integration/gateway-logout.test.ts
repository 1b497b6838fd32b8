import t from 'tap';
import { startStack, type Stack } from '../support/stack.js';

/** Logout: same-origin POST, server-side delete, cookie deletion, RP-initiated logout at the IdP. */
let stack: Stack;
t.before(async () => {
  stack = await startStack();
});
t.teardown(() => stack.close());

t.test('GET /.portcullis/logout shows a confirm page with a POST form', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'alice');
  const page = await browser.get(`${stack.url}/.portcullis/logout`);
  t.equal(page.status, 200);
  t.match(page.body, /<form[^>]+method="post"[^>]+action="\/\.portcullis\/logout"|<form[^>]+action="\/\.portcullis\/logout"[^>]+method="post"/i);
  t.equal(page.headers.get('cache-control'), 'no-store');
  t.equal((await browser.get(`${stack.url}/`)).status, 200, 'GET does not log out');
});

t.test('a cross-site POST is refused and the session survives', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'bob');
  const evil = await browser.request(`${stack.url}/.portcullis/logout`, { method: 'POST', form: {}, initiator: 'https://evil.example/page' });
  t.equal(evil.status, 403);
  const noHeaders = await browser.request(`${stack.url}/.portcullis/logout`, { method: 'POST', form: {}, fetchMetadata: false });
  t.equal(noHeaders.status, 403, 'a POST with no Origin, Sec-Fetch-Site or Referer is refused');
  t.equal((await browser.get(`${stack.url}/`)).status, 200, 'still signed in');
});

t.test('POST logout deletes the session everywhere and goes through the IdP end_session', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'carol');
  const cookieValue = browser.cookie('_portcullis')!;
  const res = await browser.request(`${stack.url}/.portcullis/logout`, { method: 'POST', form: {}, initiator: `${stack.url}/` });
  t.ok(res.status === 302 || res.status === 303, `redirect after logout (${res.status})`);
  const end = new URL(res.location!);
  t.equal(end.origin, stack.issuer);
  t.ok(end.searchParams.get('id_token_hint'), 'id_token_hint');
  t.equal(end.searchParams.get('post_logout_redirect_uri'), `${stack.url}/.portcullis/signed-out`);
  t.equal(end.searchParams.get('client_id'), 'portcullis');
  t.ok(end.searchParams.get('state'), 'state');
  const deletion = res.setCookies.find((c) => c.startsWith('_portcullis='));
  t.ok(deletion, 'the cookie is deleted');
  t.match(deletion, /^_portcullis=;/);
  t.match(deletion, /Max-Age=0/);
  t.match(deletion, /Path=\//);

  const replay = await fetch(`${stack.url}/`, { headers: { cookie: `_portcullis=${cookieValue}`, accept: 'application/json' } });
  t.equal(replay.status, 401, 'a replayed cookie is dead');

  // through the IdP's end_session confirmation back to our signed-out page
  let page = await browser.follow(res, 10);
  for (let i = 0; i < 3 && /<form/i.test(page.body) && page.url.startsWith(stack.issuer); i++) {
    page = await browser.follow(await browser.submit(page, { logout: 'yes' }), 10);
  }
  t.equal(new URL(page.url).pathname, '/.portcullis/signed-out');
  t.match(page.body, /signed out/i);
});

t.test('logout without a session still clears the cookie and signs out', async (t) => {
  const browser = stack.browser();
  const res = await browser.request(`${stack.url}/.portcullis/logout`, {
    method: 'POST',
    form: {},
    initiator: `${stack.url}/`,
    headers: { cookie: '_portcullis=garbage' },
  });
  t.equal(res.status, 303, 'no error');
  t.equal(new URL(res.location!).pathname, '/.portcullis/signed-out', 'no session: straight to the signed-out page');
  t.ok(res.setCookies.some((c) => /^_portcullis=;.*Max-Age=0/.test(c)), 'the garbage cookie is deleted');
});

t.test('the metrics count RP-initiated logouts as rp', async (t) => {
  const text = await (await fetch(`${stack.adminUrl}/metrics`)).text();
  t.match(text, /portcullis_logouts_total\{kind="rp"\} [1-9]/);
  t.match(text, /portcullis_logouts_total\{kind="user"\} 0/, 'the user page\'s kind is not used for them');
});
