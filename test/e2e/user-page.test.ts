import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startStack, type Stack } from '../support/stack.js';

/**
 * The user page in headless Chromium: two devices (browser contexts) of one user, ending the
 * other device from the page, signing out of all others, and out everywhere — all with
 * JavaScript disabled on the device that uses the page, which must render and work without it.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RESULTS = fileURLToPath(new URL('../../../test-results/', import.meta.url));
const MAC_CHROME = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const HOSTILE = 'Mozilla/5.0 <script>document.title="owned"</script><img src=x onerror=alert(1)> "quoted" &amp;';

t.test('the user page in a real browser, without JavaScript', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async (t) => {
  const stack: Stack = await startStack({
    routes: ({ url, upstream }) => [
      { from: url, to: upstream.url, policy: 'everyone' },
      { from: `${url}/docs`, to: upstream.url, public: true },
      { from: `${url}/admin`, to: upstream.url, policy: 'admins' },
    ],
  });
  t.teardown(() => stack.close());
  const url = stack.url;
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());

  async function device(userAgent: string, javaScriptEnabled: boolean): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ userAgent, javaScriptEnabled, viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${url}/`);
    await page.fill('input[name="login"]', 'alice');
    await page.fill('input[name="password"]', 'anything');
    await page.click('button[type="submit"]');
    await page.waitForURL(`${url}/`, { timeout: 15_000 });
    return { context, page };
  }
  /** What an app answers this device now, as an API client would ask (no redirect to sign in). */
  async function appStatus(context: BrowserContext): Promise<number> {
    const res = await context.request.get(`${url}/`, { headers: { accept: 'application/json' }, maxRedirects: 0 });
    return res.status();
  }

  const laptop = await device(MAC_CHROME, false);
  const phone = await device(IPHONE, true);
  const hostile = await device(HOSTILE, true);

  const page = laptop.page;
  const response = await page.goto(`${url}/.portcullis/`);
  t.equal(response?.status(), 200);
  const csp = response?.headers()['content-security-policy'] ?? '';
  t.match(csp, /default-src 'none'/, 'CSP: nothing loads by default…');
  t.notMatch(csp, /script-src/, '…and no scripts are allowed');
  t.equal(await page.locator('script').count(), 0, 'no script elements');

  const rows = page.locator('tbody tr');
  t.equal(await rows.count(), 3, 'three devices');
  const current = page.locator('tr[data-current="true"]');
  t.match(await current.textContent(), /Chrome 130 on macOS/, 'this device, by name');
  t.match(await current.textContent(), /this device/);
  t.match(await current.textContent(), /127\.0\.0\.1/, 'its IP address');
  t.equal(await current.locator('button').count(), 0, 'no End button on this device');
  t.match(await page.locator('tr', { hasText: 'Safari 17 on iOS' }).textContent(), /just now/, 'the phone, by name, seen just now');
  const seen = current.locator('time').first();
  t.ok(Date.parse((await seen.getAttribute('datetime')) ?? ''), 'absolute time in datetime');
  t.match(await seen.getAttribute('title'), /GMT/, 'and in the tooltip');

  // the hostile user agent is shown as text, never as markup
  t.equal(await page.locator('img').count(), 0, 'no injected image');
  t.notMatch(await page.title(), /owned/);
  const hostileRow = page.locator('tr', { hasText: 'Unknown browser' });
  t.equal(await hostileRow.count(), 1, 'an unreadable user agent is an unknown browser');
  t.equal(await hostileRow.locator('span[title]').getAttribute('title'), HOSTILE, 'the raw user agent, intact, in the tooltip');

  // the apps alice may open: the app and the public docs, not the admins' app
  const apps = page.locator('ul.apps li');
  t.same(await apps.allTextContents(), [url, `${url}/docspublic`], 'her apps, the public one marked');
  t.equal(await page.locator('ul.apps a').first().getAttribute('href'), `${url}/`);

  mkdirSync(RESULTS, { recursive: true });
  const shot = await page.screenshot({ fullPage: true });
  writeFileSync(`${RESULTS}user-page-no-js.png`, shot);
  const blank = await (await laptop.context.newPage()).screenshot({ fullPage: true });
  t.ok(shot.length > 3 * blank.length && shot.length > 20_000, `the screenshot has content (${shot.length} bytes vs ${blank.length} blank)`);

  // End the phone from the page (a plain form POST: scripts are off here)
  await page.locator('tr', { hasText: 'Safari 17 on iOS' }).getByRole('button', { name: 'End' }).click();
  await page.waitForURL(`${url}/.portcullis/`);
  t.equal(await rows.count(), 2, 'the phone is gone from the list');
  t.equal(await appStatus(phone.context), 401, 'the phone is signed out');
  t.equal(await appStatus(laptop.context), 200, 'this device is not');

  // the phone signs in again; then: sign out of all other devices
  const phoneAgain = await device(IPHONE, true);
  await page.reload();
  t.equal(await rows.count(), 3);
  await page.getByRole('button', { name: 'Sign out of all other devices' }).click();
  await page.waitForURL(`${url}/.portcullis/`);
  t.equal(await rows.count(), 1, 'only this device is left');
  t.equal(await page.getByRole('button', { name: 'Sign out of all other devices' }).count(), 0, 'nothing else to sign out of');
  t.equal(await appStatus(phoneAgain.context), 401);
  t.equal(await appStatus(hostile.context), 401);
  t.equal(await appStatus(laptop.context), 200);

  // sign out everywhere: the other device and this one, then the IdP's sign-out
  const tablet = await device(IPHONE, true);
  await page.reload();
  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await page.waitForURL((u) => u.pathname === '/.portcullis/signed-out' || u.origin === stack.issuer, { timeout: 15_000 });
  if (page.url().startsWith(stack.issuer)) {
    // the IdP asks to confirm signing out of it too (a plain form as well)
    await page.click('button[type="submit"], button:has-text("Yes")');
    await page.waitForURL((u) => u.pathname === '/.portcullis/signed-out', { timeout: 15_000 });
  }
  t.match(await page.textContent('body'), /signed out/i);
  t.equal(await appStatus(tablet.context), 401, 'the other device is signed out');
  t.equal(await appStatus(laptop.context), 401, 'and this one');
  const after = await page.goto(`${url}/.portcullis/`);
  t.not(new URL(page.url()).pathname, '/.portcullis/', `the user page now asks for sign-in (${after?.status()})`);
});
