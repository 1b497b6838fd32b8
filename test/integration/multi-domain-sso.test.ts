import t from 'tap';
import type { BrowserResponse } from '../support/browser-client.js';
import { APP2, APP3, getVia, multiDomainOptions, recordRequests } from '../support/multi-domain.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * Single sign-on across domains the session cookie cannot cover: public_url on 127.0.0.1, apps
 * on 127.0.0.2 and 127.0.0.3 (separate hosts, so separate cookies, as two domains would be).
 */
const lines: string[] = [];
let stack: Stack;
let port: number;
const app = (host: string, path = '/') => `http://${host}:${port}${path}`;

t.before(async () => {
  stack = await startStack({ ...multiDomainOptions(), logLevel: 'info', logDestination: { write: (line: string) => lines.push(line) } });
  port = Number(new URL(stack.url).port);
});
t.teardown(() => stack.close());

function echoed(page: BrowserResponse): { url: string; headers: Record<string, string> } {
  return JSON.parse(page.body) as { url: string; headers: Record<string, string> };
}

t.test('one IdP sign-in serves both domains; one sign-out ends both', async (t) => {
  const browser = stack.browser();
  const requests = recordRequests(browser);

  const first = await browser.login(app(APP2, '/first?x=1'), 'alice');
  t.equal(first.status, 200, 'signed in and on the app');
  t.equal(first.url, app(APP2, '/first?x=1'), 'back at the original address, without a ticket');
  t.equal(echoed(first).headers['x-portcullis-user'], 'alice');

  const second = await browser.navigate(app(APP3, '/second'));
  t.equal(second.status, 200, 'the second domain needs no sign-in of its own');
  t.equal(second.url, app(APP3, '/second'));
  t.equal(echoed(second).headers['x-portcullis-user'], 'alice');

  const idpAuthorizations = requests.filter((u) => u.startsWith(stack.issuer) && new URL(u).pathname === '/auth');
  t.equal(idpAuthorizations.length, 1, 'exactly one authorization request reached the IdP');
  const loginSubmissions = requests.posts.filter((u) => u.startsWith(stack.issuer) && new URL(u).pathname.startsWith('/interaction/'));
  t.equal(loginSubmissions.length, 1, 'exactly one IdP login form was submitted');

  // every host holds its own host-only cookie, for the one session
  const cookies = browser.jar.all('_portcullis');
  t.same(cookies.map((c) => c.domain).sort(), ['127.0.0.1', APP2, APP3]);
  t.ok(cookies.every((c) => c.hostOnly && c.httpOnly && c.sameSite === 'lax' && c.path === '/'));
  const sessions = (await (await browser.get(app(APP3, '/.portcullis/sessions'), { headers: { accept: 'application/json' } })).body);
  t.equal((JSON.parse(sessions) as { sessions: unknown[] }).sessions.length, 1, 'one session, not one per domain');

  // the ticket appears in no final address, and nowhere in the log
  const tickets = requests.filter((u) => u.includes('/.portcullis/handoff/complete')).map((u) => new URL(u).searchParams.get('ticket')!);
  t.equal(tickets.length, 2, 'one handoff per app domain');
  for (const ticket of tickets) {
    t.ok(ticket.length > 40);
    t.notOk(first.url.includes(ticket) || second.url.includes(ticket));
    t.notOk(lines.join('\n').includes(ticket), 'the ticket is never logged');
  }
  t.notOk(lines.join('\n').includes(cookies[0]!.value), 'no cookie value in the log');
  const handoffLines = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['msg'] === 'request' && String(e['path']).startsWith('/.portcullis/handoff'));
  t.ok(handoffLines.length >= 4, 'the handoff requests are in the access log (path only)');

  // a replayed ticket is refused, in this browser or another
  const replay = await browser.get(requests.find((u) => u.includes('/.portcullis/handoff/complete'))!);
  t.equal(replay.status, 400, 'replay refused');
  t.equal(replay.setCookies.length, 0);
  t.equal((await stack.browser().get(requests.find((u) => u.includes('/.portcullis/handoff/complete'))!)).status, 400);

  // sign out on one app domain: the session ends for every domain
  const out = await browser.request(app(APP2, '/.portcullis/logout'), { method: 'POST', form: {}, initiator: app(APP2, '/') });
  t.equal(out.status, 303);
  t.match(out.setCookies.join('\n'), /_portcullis=;/, 'this host\'s cookie is deleted');
  t.notMatch(out.setCookies.join('\n'), /Domain=/i, 'host-only deletion');
  t.same(browser.jar.all('_portcullis').map((c) => c.domain).sort(), ['127.0.0.1', APP3], 'the other hosts still hold cookies…');
  for (const url of [app(APP2, '/'), app(APP3, '/'), `${stack.url}/`]) {
    const res = await browser.get(url, { headers: { accept: 'application/json' } });
    t.equal(res.status, 401, `…which no longer resolve: signed out at ${url}`);
  }
});

t.test('an app domain with a session at public_url needs no IdP at all', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'bob');
  const requests = recordRequests(browser);
  const page = await browser.navigate(app(APP2, '/x'));
  t.equal(page.status, 200);
  t.equal(echoed(page).headers['x-portcullis-user'], 'bob');
  t.notOk(requests.some((u) => u.startsWith(stack.issuer)), 'no request to the IdP');
});

t.test('refusals: open redirects, foreign hosts, forged and misdirected tickets', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'carol');
  const evil = await browser.get(`${stack.url}/.portcullis/handoff?rd=${encodeURIComponent('http://evil.example/')}`);
  t.equal(evil.status, 400, 'rd outside the routes');
  t.equal((await browser.get(`${stack.url}/.portcullis/handoff`)).status, 400, 'no rd');
  const loop = await browser.get(`${stack.url}/.portcullis/handoff?rd=${encodeURIComponent(app(APP2, '/.portcullis/handoff?rd=x'))}`);
  t.equal(loop.status, 400, 'never back into the handoff');
  t.equal((await browser.get(`${stack.url}/.portcullis/handoff/complete?ticket=x`)).status, 404, 'no tickets redeemed at public_url');
  t.equal((await browser.get(app(APP2, '/.portcullis/handoff/complete?ticket=garbage'))).status, 400, 'a forged ticket');

  // a handoff not begun on the target host is sent there first (to get its nonce cookie)
  const unbound = await browser.get(`${stack.url}/.portcullis/handoff?rd=${encodeURIComponent(app(APP2, '/'))}`);
  t.equal(unbound.status, 302);
  t.equal(unbound.location, app(APP2, `/.portcullis/handoff?rd=${encodeURIComponent(app(APP2, '/'))}`));

  // on an app host, the handoff start sets a nonce cookie there and goes to public_url
  const elsewhere = await browser.get(unbound.location!);
  t.equal(elsewhere.status, 302);
  t.equal(new URL(elsewhere.location!).origin, stack.url);
  t.match(elsewhere.setCookies.join('\n'), /_portcullis_handoff=[\w-]{43}; Path=\/\.portcullis\/handoff;.*HttpOnly.*SameSite=Lax/);

  // a ticket for app2 is worth nothing on app3
  const toApp2 = await browser.get(elsewhere.location!);
  t.equal(toApp2.status, 302);
  const ticketUrl = new URL(toApp2.location!);
  t.equal(ticketUrl.origin, `http://${APP2}:${port}`);
  const misdirected = await browser.get(app(APP3, `/.portcullis/handoff/complete${ticketUrl.search}`));
  t.equal(misdirected.status, 400);
  // login CSRF: a ticket for carol's session is refused in any browser that did not begin this handoff
  const victim = stack.browser();
  await victim.login(`${stack.url}/`, 'dan');
  const noNonce = await victim.get(ticketUrl.href);
  t.equal(noNonce.status, 400, 'not for a browser without the nonce cookie');
  t.equal(noNonce.setCookies.filter((c) => c.startsWith('_portcullis=')).length, 0);
  await victim.get(app(APP2, `/.portcullis/handoff?rd=${encodeURIComponent(app(APP2, '/'))}`));
  const planted = await victim.get(ticketUrl.href);
  t.equal(planted.status, 400, 'nor for one whose own handoff nonce differs');
  t.match(planted.body, /not started in this browser/);
  t.equal(planted.setCookies.filter((c) => c.startsWith('_portcullis=')).length, 0, 'no session cookie planted');
  t.equal((await browser.get(ticketUrl.href)).status, 302, 'still good where it belongs (the refusals spent nothing)');
});

t.test('a browser that refuses the app domain\'s cookie gets an error page after one round, not a loop', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'dave');
  const set = browser.jar.set.bind(browser.jar);
  browser.jar.set = (url, header) => (url.hostname === APP3 ? undefined : set(url, header));
  const page = await browser.navigate(app(APP3, '/'), 8);
  t.equal(page.status, 400);
  t.match(page.body, /did not keep the sign-in cookie/);
  // the nonce cookie it refused stops it already at the ticket (before the loop guard would)
  t.match(page.url, /\/\.portcullis\/handoff\/complete\?/);
});

t.test('API clients on an app domain get 401, not a redirect', async (t) => {
  const res = await fetch(app(APP2, '/api'), { headers: { accept: 'application/json' }, redirect: 'manual' });
  t.equal(res.status, 401);
  await res.arrayBuffer();
});

t.test('a wildcard route outside the cookie\'s reach hands off per concrete host', async (t) => {
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'erin');
  const rd = `http://a.apps.test:${port}/w`;
  const begun = await getVia(port, `http://a.apps.test:${port}/.portcullis/handoff?rd=${encodeURIComponent(rd)}`);
  const nonce = begun.setCookies.find((c) => c.startsWith('_portcullis_handoff='))!;
  const nonceCookie = nonce.slice(0, nonce.indexOf(';'));
  const start = await browser.get(begun.location!);
  t.equal(start.status, 302);
  const ticketUrl = new URL(start.location!);
  t.equal(ticketUrl.origin, `http://a.apps.test:${port}`, 'the ticket is for that host');
  const sibling = await getVia(port, `http://b.apps.test:${port}${ticketUrl.pathname}${ticketUrl.search}`, { cookie: nonceCookie });
  t.equal(sibling.status, 400, 'not for a sibling under the same wildcard');
  const done = await getVia(port, ticketUrl.href, { cookie: nonceCookie });
  t.equal(done.status, 302);
  const cookie = done.setCookies.find((c) => c.startsWith('_portcullis='))!;
  t.notMatch(cookie, /Domain=/i, 'host-only for a.apps.test');
  const page = await getVia(port, rd, { cookie: cookie.slice(0, cookie.indexOf(';')), accept: 'application/json' });
  t.equal(page.status, 200);
});
