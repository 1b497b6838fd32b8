import t from 'tap';
import { APP2, APP3, multiDomainOptions, recordRequests, walk } from '../support/multi-domain.js';
import { startStack, type StackReplicaContext } from '../support/stack.js';

/**
 * cookie.same_site: strict. A Strict cookie is withheld on any navigation that came from
 * another site, and every handoff crosses sites (app host → public_url → app host), so the
 * gateway moves on from its own pages where a redirect would lose the cookie. Still one IdP
 * sign-in, one session, one sign-out.
 */
t.test('multi-domain sign-in with SameSite=Strict cookies', async (t) => {
  const base = multiDomainOptions();
  const stack = await startStack({
    ...base,
    config: (ctx: StackReplicaContext) => ({ ...base.config!(ctx), cookie: { same_site: 'strict' } }),
  });
  t.teardown(() => stack.close());
  const port = Number(new URL(stack.url).port);
  const app = (host: string, path = '/') => `http://${host}:${port}${path}`;
  const browser = stack.browser();
  const requests = recordRequests(browser);

  const first = await walk(browser, app(APP2, '/one'), 'alice');
  t.equal(first.status, 200);
  t.equal(first.url, app(APP2, '/one'));
  t.match(first.body, /"x-portcullis-user":"alice"/);
  const second = await walk(browser, app(APP3, '/two'), 'alice');
  t.equal(second.status, 200, 'the second domain signs in from the public_url session');
  t.equal(second.url, app(APP3, '/two'));
  t.match(second.body, /"x-portcullis-user":"alice"/);

  const logins = requests.posts.filter((u) => u.startsWith(stack.issuer) && new URL(u).pathname.startsWith('/interaction/'));
  t.equal(logins.length, 1, 'one IdP sign-in');
  const cookies = browser.jar.all('_portcullis');
  t.ok(cookies.every((c) => c.sameSite === 'strict'));
  t.equal(new Set(cookies.map((c) => c.value.split('.')[1])).size, 1, 'every host\'s cookie names one session');

  const out = await browser.request(app(APP3, '/.portcullis/logout'), { method: 'POST', form: {}, initiator: app(APP3, '/') });
  t.equal(out.status, 303);
  for (const url of [app(APP2, '/'), `${stack.url}/`]) {
    t.equal((await browser.get(url, { headers: { accept: 'application/json' } })).status, 401, `signed out at ${url}`);
  }
});
