import { existsSync } from 'node:fs';
import t from 'tap';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { freePorts } from '../support/ports.js';
import { startStack } from '../support/stack.js';

/**
 * Front-channel logout as Chromium really loads it: an iframe in a page of the IdP's origin.
 * oidc-provider 9 renders no front-channel iframes, so the IdP's page is supplied by request
 * interception (the browser still treats it as the IdP's origin). The receiver renders inside
 * the IdP's frame and nowhere else, and the sid form works although a cross-site iframe carries
 * no SameSite=Lax cookie.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function frameText(page: Page): Promise<string> {
  const frame: Frame | undefined = page.frames().find((f) => f !== page.mainFrame());
  if (!frame) return '';
  try {
    return (await frame.textContent('body', { timeout: 2_000 })) ?? '';
  } catch {
    return '';
  }
}

t.test('the IdP frames the receiver; other origins cannot', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async (t) => {
  const stack = await startStack();
  t.teardown(() => stack.close());
  const [otherPort] = await freePorts(1);
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // an intercepted page has no address, so Chromium counts it as public and would block its
      // iframe to 127.0.0.1 (Local Network Access); a real IdP page on a local address would not be
      '--disable-features=LocalNetworkAccessChecks'],
  });
  t.teardown(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${stack.url}/`);
  await page.fill('input[name="login"]', 'alice');
  await page.fill('input[name="password"]', 'anything');
  await page.click('button[type="submit"]');
  await page.waitForURL(`${stack.url}/`, { timeout: 15_000 });

  const idpCookie = (await context.cookies(stack.issuer)).find((c) => c.name === '_session')?.value;
  const entry = stack.idp!.entries('Session').find((e) => e.id === idpCookie);
  const sid = Object.values((entry?.payload.authorizations ?? {}) as Record<string, { sid?: string }>)[0]?.sid;
  t.ok(sid, 'the IdP session id');
  const receiver = `${stack.url}/.portcullis/frontchannel-logout?${new URLSearchParams({ iss: stack.issuer, sid: sid! })}`;
  const framing = (src: string) => `<!doctype html><title>IdP sign-out</title><iframe src="${src.replace(/&/g, '&amp;')}"></iframe>`;
  const statusNow = async () => (await context.request.get(`${stack.url}/`, { headers: { accept: 'application/json' }, maxRedirects: 0 })).status();

  // another origin frames the user page and the receiver (without sid): both refused
  const other = `http://localhost:${otherPort}`;
  await page.route(`${other}/frame`, (route) => route.fulfill({ contentType: 'text/html', body: framing(`${stack.url}/.portcullis/`) }));
  await page.goto(`${other}/frame`);
  t.notMatch(await frameText(page), /Your account/, 'the user page is never framed');
  await page.route(`${other}/frame2`, (route) => route.fulfill({ contentType: 'text/html', body: framing(`${stack.url}/.portcullis/frontchannel-logout`) }));
  await page.goto(`${other}/frame2`);
  t.notMatch(await frameText(page), /signed out|No session/i, 'the receiver is not rendered for another origin');
  t.equal(await statusNow(), 200, 'still signed in');

  // the IdP's own page: the receiver renders in its frame and the session ends
  await page.route(`${stack.issuer}/frontchannel-test`, (route) => route.fulfill({ contentType: 'text/html', body: framing(receiver) }));
  await page.goto(`${stack.issuer}/frontchannel-test`);
  let text = '';
  for (let i = 0; i < 50 && !/signed out/i.test(text); i++) {
    text = await frameText(page);
    if (!/signed out/i.test(text)) await page.waitForTimeout(100);
  }
  t.match(text, /signed out of this gateway/i, 'rendered inside the IdP’s frame');
  t.equal(await statusNow(), 401, 'the session ended');
});
