import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../test/support/ports.js';
import { parseConfig } from '../src/config/index.js';
import { startDemoIdp, type DemoIdp } from '../src/demo/idp.js';
import { createGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { BrowserClient } from '../test/support/browser-client.js';

/** A gateway reached with a signed-in session cookie, or why that could not be set up. */
export type SessionTarget =
  | { url: string; headers: Record<string, string>; close(): Promise<void> }
  | { error: string; close(): Promise<void> };

const here = dirname(fileURLToPath(import.meta.url));
/** dist/bench → the repository root (its policies/ directory has everyone.yaml) */
const root = resolve(here, '../..');
const COOKIE_NAME = '_portcullis';
const CLIENT_ID = 'bench';
const CLIENT_SECRET = 'bench-only-client-secret-of-reasonable-length';

/** Polls until the gateway has discovered the IdP and its store and keys are up. */
async function untilReady(gateway: Gateway, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!gateway.isReady()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/**
 * The authenticated request path: the demo IdP and a gateway (memory store) with a protected
 * route (policy everyone) in front of `upstream`; signs in once through the real login flow and
 * hands back the session cookie the load loop sends. Before that it checks that a request with
 * only that cookie reaches the upstream (200 with the upstream's JSON), not a login redirect,
 * so the row never measures the gateway's 302s.
 */
export async function startSessionTarget(upstream: string): Promise<SessionTarget> {
  const [port, adminPort] = await freePorts(2);
  const url = `http://127.0.0.1:${port}`;
  let idp: DemoIdp | undefined;
  let gateway: Gateway | undefined;
  const close = async () => {
    await gateway?.close();
    await idp?.close();
  };
  try {
    idp = await startDemoIdp({
      backchannelLoopbackAllowed: true,
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${url}/.portcullis/callback`],
          post_logout_redirect_uris: [`${url}/.portcullis/signed-out`],
          backchannel_logout_uri: `${url}/.portcullis/backchannel-logout`,
        },
      ],
    });
    const raw = {
      server: { listen: `127.0.0.1:${port}`, admin_listen: `127.0.0.1:${adminPort}`, public_url: url },
      idp: { issuer: idp.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, allow_insecure_http: true },
      cookie: { name: COOKIE_NAME, secret: 'bench-only-cookie-secret-0123456789abcdef', secure: false },
      session: { store: 'memory' },
      routes: [{ from: `${url}/`, to: upstream, policy: 'everyone' }],
      policies_dir: resolve(root, 'policies'),
      log: { level: 'silent' },
    };
    const config = parseConfig(raw, { baseDir: root, env: {} });
    gateway = createGateway(config, { logger: createLogger({ level: 'silent' }) });
    await gateway.listen();
    if (!(await untilReady(gateway, 15_000))) return { error: 'the gateway did not become ready within 15s', close };

    const browser = new BrowserClient();
    const page = await browser.login(`${url}/`, 'bench');
    const cookie = browser.cookie(COOKIE_NAME);
    if (!cookie) return { error: `sign-in set no ${COOKIE_NAME} cookie (last answer ${page.status} ${page.url})`, close };
    const headers = { cookie: `${COOKIE_NAME}=${cookie}` };

    // only the cookie, no redirects followed: exactly what the load loop will send
    const check = await fetch(`${url}/bench`, { headers, redirect: 'manual' });
    const body = await check.text();
    const fromUpstream = check.status === 200 && (check.headers.get('content-type') ?? '').includes('application/json') && body.includes('"ok":true');
    if (!fromUpstream) return { error: `a request with the session cookie got ${check.status}, not the upstream's 200`, close };
    return { url, headers, close };
  } catch (error) {
    return { error: `setup failed (${(error as Error).message})`, close };
  }
}
