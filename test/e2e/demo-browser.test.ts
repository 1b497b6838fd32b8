import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { chromium, type Browser } from 'playwright-core';
import { freePorts } from '../support/ports.js';

/**
 * The demo as a newcomer runs it, driven by headless Chromium: protected URL → IdP sign-in →
 * the whoami page shows the user → sign out → signed out.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const mainJs = fileURLToPath(new URL('../../src/main.js', import.meta.url));

async function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`demo did not start: ${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${output}`)));
  });
}

t.test('sign in and out of the demo in a real browser', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async (t) => {
  const [gatewayPort, adminPort, idpPort, whoamiPort] = await freePorts(4);
  // exactly what `npm run demo` runs
  const demo = spawn(process.execPath, [mainJs, 'demo'], {
    env: {
      ...process.env,
      PORTCULLIS_CONFIG: '',
      PORTCULLIS_DEMO_PORT: String(gatewayPort),
      PORTCULLIS_DEMO_ADMIN_PORT: String(adminPort),
      PORTCULLIS_DEMO_IDP_PORT: String(idpPort),
      PORTCULLIS_DEMO_WHOAMI_PORT: String(whoamiPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (demo.exitCode === null) demo.kill('SIGTERM');
    await exited;
  });
  const banner = await waitForOutput(demo, /Open (http:\/\/127\.0\.0\.1:\d+)\//, 30_000);
  const url = /Open (http:\/\/127\.0\.0\.1:\d+)\//.exec(banner)![1]!;

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();

  await page.goto(`${url}/hello`);
  t.match(page.url(), new RegExp(`^http://localhost:${idpPort}/`), 'sent to the IdP');
  await page.fill('input[name="login"]', 'alice');
  await page.fill('input[name="password"]', 'anything');
  await page.click('button[type="submit"]');
  await page.waitForURL(`${url}/hello`, { timeout: 15_000 });
  const text = await page.textContent('body');
  t.match(text, /alice/, 'the whoami page shows the user');
  t.match(text, /alice@example\.com/);

  await page.click('button:has-text("Sign out")');
  await page.waitForURL((u) => u.pathname === '/.portcullis/signed-out' || u.origin === `http://localhost:${idpPort}`, { timeout: 15_000 });
  if (page.url().startsWith(`http://localhost:${idpPort}`)) {
    // the IdP asks to confirm signing out of it too
    await page.click('button[type="submit"], button:has-text("Yes")');
    await page.waitForURL((u) => u.pathname === '/.portcullis/signed-out', { timeout: 15_000 });
  }
  t.match(await page.textContent('body'), /signed out/i);

  await page.goto(`${url}/hello`);
  t.match(page.url(), new RegExp(`^http://localhost:${idpPort}/`), 'signed out: the app asks for sign-in again');

  demo.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM drains and exits 0');
});
