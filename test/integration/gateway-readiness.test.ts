import t from 'tap';
import { eventually, startStack } from '../support/stack.js';

/** The gateway starts and serves /healthz while the IdP is down; /readyz follows discovery, once. */
t.test('IdP down at start, then up, then down again', async (t) => {
  const stack = await startStack({ idpDown: true });
  t.teardown(() => stack.close());

  t.equal((await fetch(`${stack.adminUrl}/healthz`)).status, 200, 'alive without the IdP');
  const notReady = await fetch(`${stack.adminUrl}/readyz`);
  t.equal(notReady.status, 503);
  t.match(await notReady.json(), { idp: 'pending' });

  const login = await fetch(`${stack.url}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
  t.equal(login.status, 503, 'a login attempt while the IdP is unreachable gets a clear 503 page');
  t.match(await login.text(), /Identity provider unavailable/);

  await stack.startIdp();
  await eventually(async () => (await fetch(`${stack.adminUrl}/readyz`)).status === 200, 10_000);

  const browser = stack.browser();
  const page = await browser.login(`${stack.url}/app`, 'alice');
  t.equal(page.status, 200);

  await stack.stopIdp();
  t.equal((await fetch(`${stack.adminUrl}/readyz`)).status, 200, 'readiness does not flip back when the IdP fails later');
  t.equal((await browser.get(`${stack.url}/app`)).status, 200, 'held sessions are still served');
  const fresh = await fetch(`${stack.url}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
  // discovery already succeeded and the gateway does not probe the IdP per login: the browser is
  // sent on with a valid request (the 503 page is for an IdP never reached since start)
  t.equal(fresh.status, 302, 'a new login is still sent to the (known) IdP');
  t.equal(new URL(fresh.headers.get('location')!).origin, stack.issuer);

  const admin = await fetch(`${stack.adminUrl}/nope`);
  t.equal(admin.status, 404);
});
