import { existsSync } from 'node:fs';
import t from 'tap';
import { chromium, type Browser } from 'playwright-core';
import { APP2, APP3, multiDomainOptions } from '../support/multi-domain.js';
import { startStack } from '../support/stack.js';

/**
 * Single sign-on across two "domains" in a real browser, whose cookie rules are the point:
 * public_url on 127.0.0.1, apps on 127.0.0.2 and 127.0.0.3 (different sites to Chromium).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

t.test('one sign-in for two domains, one sign-out for both, in Chromium', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async (t) => {
  const stack = await startStack(multiDomainOptions());
  let browser: Browser | undefined;
  // the browser first: its open connections would otherwise hold the gateway's drain
  t.teardown(async () => {
    await browser?.close();
    await stack.close();
  });
  const port = Number(new URL(stack.url).port);
  const app = (host: string, path: string) => `http://${host}:${port}${path}`;

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  const authorizations: string[] = [];
  const visited: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin === stack.issuer && url.pathname === '/auth') authorizations.push(request.url());
    if (request.isNavigationRequest()) visited.push(request.url());
  });

  await page.goto(app(APP2, '/hello?from=app2'));
  t.match(page.url(), new RegExp(`^${stack.issuer}/`), 'sent to the IdP');
  await page.fill('input[name="login"]', 'alice');
  await page.fill('input[name="password"]', 'anything');
  await page.click('button[type="submit"]');
  await page.waitForURL(app(APP2, '/hello?from=app2'), { timeout: 15_000 });
  t.match(await page.textContent('body'), /"x-portcullis-user":\s*"alice"/, 'app2 knows the user');

  await page.goto(app(APP3, '/there'));
  await page.waitForURL(app(APP3, '/there'), { timeout: 15_000 });
  t.match(await page.textContent('body'), /"x-portcullis-user":\s*"alice"/, 'app3 knows the user without a second sign-in');
  t.equal(authorizations.length, 1, 'one authorization request to the IdP for both domains');
  t.ok(visited.some((u) => u.includes('/.portcullis/handoff/complete?ticket=')), 'the handoff ran');

  const cookies = await context.cookies();
  const hosts = cookies.filter((c) => c.name === '_portcullis').map((c) => c.domain).sort();
  t.same(hosts, ['127.0.0.1', APP2, APP3], 'Chromium keeps a host-only cookie per host');

  // sign out on app3 through its own page: every domain is signed out
  await page.goto(app(APP3, '/.portcullis/logout'));
  await page.click('button:has-text("Sign out")');
  await page.waitForURL((u) => u.pathname === '/.portcullis/signed-out' || u.origin === stack.issuer, { timeout: 15_000 });
  if (page.url().startsWith(stack.issuer)) {
    await page.click('button[type="submit"], button:has-text("Yes")');
    await page.waitForURL((u) => u.pathname === '/.portcullis/signed-out', { timeout: 15_000 });
  }
  for (const url of [app(APP2, '/hello'), app(APP3, '/there')]) {
    await page.goto(url);
    t.match(page.url(), new RegExp(`^${stack.issuer}/`), `signed out: ${url} asks for sign-in again`);
  }
});
