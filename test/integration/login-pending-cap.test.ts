import t from 'tap';
import { startStack, type Stack } from '../support/stack.js';

/**
 * Abandoned sign-ins are bounded when a login starts: a browser that starts many logins and
 * finishes none never holds more than 8 transaction cookies, and its next sign-in still works.
 * A real gateway, a real oidc-provider and a browser-like cookie jar.
 */
const CAP = 8;
let stack: Stack;
t.before(async () => {
  stack = await startStack();
});
t.teardown(() => stack.close());

t.test('50 abandoned logins from one browser, then one that completes', async (t) => {
  const browser = stack.browser();
  const pendingCookies = () => browser.jar.all().filter((c) => c.name.startsWith('_portcullis_tx_'));
  let most = 0;
  for (let i = 0; i < 49; i++) {
    // half from an app URL (the pipeline starts the login), half from the login endpoint
    const start = i % 2 === 0 ? `${stack.url}/docs/${i}` : `${stack.url}/.portcullis/login?rd=${encodeURIComponent(`${stack.url}/docs/${i}`)}`;
    const res = await browser.get(start);
    t.equal(res.status, 302, `login ${i} goes to the IdP`);
    t.equal(new URL(res.location!).origin, stack.issuer);
    most = Math.max(most, pendingCookies().length);
  }
  t.equal(most, CAP, `the jar never held more than ${CAP} transaction cookies`);
  const callbackCookieHeader = browser.jar.header({ url: new URL(`${stack.url}/.portcullis/callback`), method: 'GET', crossSite: true }) ?? '';
  t.ok(callbackCookieHeader.length < 8 * 1024, `the callback's Cookie header stays small (${callbackCookieHeader.length} bytes)`);

  const page = await browser.login(`${stack.url}/docs/last`, 'erin');
  t.equal(page.status, 200, 'the last sign-in completes');
  t.equal(page.url, `${stack.url}/docs/last`, 'and lands where it started');
  t.ok(browser.cookie('_portcullis'), 'with a session');
  t.ok(pendingCookies().length <= CAP - 1, 'the spent transaction is gone, the others stay for their tabs');
  const echoed = JSON.parse(page.body) as { headers: Record<string, string> };
  t.equal(echoed.headers['x-portcullis-user'], 'erin', 'the upstream sees who signed in');
});
