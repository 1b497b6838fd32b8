import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserClient } from '../../test/support/browser-client.js';
import { TEST_CLIENT_ID, TEST_CLIENT_SECRET } from '../../test/support/idp.js';
import { adopt, until, type Child } from '../lib/child.js';

/** dist/bench/targets → the repository root (policies/ has everyone.yaml) */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
export const COOKIE_NAME = '_portcullis';
/**
 * The node flags the container image starts the gateway with (its ENTRYPOINT; a unit test keeps
 * the two alike). The bench starts the gateway, and the Node baselines, the same way: the
 * runtime operators run, every proxy compared on the same runtime.
 */
export const IMAGE_NODE_FLAGS: readonly string[] = ['--no-memory-reducer'];
export const COOKIE_SECRET = 'bench-only-cookie-secret-0123456789abcdef';

export interface GatewaySpec {
  port: number;
  adminPort: number;
  upstream: string;
  issuer: string;
  store: { kind: 'memory' } | { kind: 'redis'; url: string; keyPrefix?: string; mirrorMaxSessions?: number };
  /** a public route (no login), or one behind the `everyone` policy */
  public: boolean;
  /** extra top-level config sections, merged shallowly into the `session` section */
  session?: Record<string, unknown>;
}

/** The raw config (what an operator's YAML holds) for one bench gateway. */
export function gatewayConfig(spec: GatewaySpec): Record<string, unknown> {
  const url = `http://127.0.0.1:${spec.port}`;
  return {
    server: { listen: `127.0.0.1:${spec.port}`, admin_listen: `127.0.0.1:${spec.adminPort}`, public_url: url },
    idp: { issuer: spec.issuer, client_id: TEST_CLIENT_ID, client_secret: TEST_CLIENT_SECRET, allow_insecure_http: true },
    cookie: { name: COOKIE_NAME, secret: COOKIE_SECRET, secure: false },
    session: {
      store: spec.store.kind,
      ...(spec.store.kind === 'redis' ? {
            redis: {
              url: spec.store.url,
              key_prefix: spec.store.keyPrefix ?? 'portcullis:',
              ...(spec.store.mirrorMaxSessions ? { mirror_max_sessions: spec.store.mirrorMaxSessions } : {}),
            },
          } : {}),
      ...spec.session,
    },
    routes: [spec.public ? { from: `${url}/`, to: spec.upstream, public: true } : { from: `${url}/`, to: spec.upstream, policy: 'everyone' }],
    policies_dir: resolve(ROOT, 'policies'),
    // log.level stays at its default (info): the access log is part of what operators run
  };
}

/**
 * The command line of a bench gateway: node with the image's flags, then `serve --config FILE`.
 * BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" adds node flags (node refuses
 * --cpu-prof in NODE_OPTIONS); BENCH_GATEWAY_MAIN=/other/checkout/dist/src/main.js measures another
 * build with this harness; `launcher` runs it under another program (the instructions mode's valgrind).
 */
export function gatewayCommand(configFile: string, launcher: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): string[] {
  const nodeArgs = env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const main = env.BENCH_GATEWAY_MAIN || MAIN;
  return [...launcher, process.execPath, ...IMAGE_NODE_FLAGS, ...nodeArgs, main, 'serve', '--config', configFile];
}

/**
 * The gateway as operators run it: `portcullis serve --config FILE` in its own process, started
 * with the image's node flags, default
 * logging (the access log at info goes to stdout, which is /dev/null here), metrics on. Resolves
 * once /readyz says ready (IdP discovered, store synced, keys loaded).
 */
export async function startGatewayProcess(
  spec: GatewaySpec,
  options: { launcher?: string[]; readyTimeoutMs?: number } = {},
): Promise<{ url: string; adminUrl: string; pid: number; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-gw-'));
  const file = join(dir, 'portcullis.yaml');
  // JSON is YAML: no second serializer needed
  writeFileSync(file, JSON.stringify(gatewayConfig(spec), null, 2));
  const env = { ...process.env };
  delete env.LOG_LEVEL;
  const command = gatewayCommand(file, options.launcher);
  const proc = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString();
  });
  const child: Child = adopt(proc);
  const stop = async () => {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const adminUrl = `http://127.0.0.1:${spec.adminPort}`;
  try {
    await until(async () => {
      if (proc.exitCode !== null) throw new Error(`the gateway exited (${proc.exitCode}): ${stderr.trim()}`);
      return (await fetch(`${adminUrl}/readyz`)).ok;
    }, 'the gateway to be ready', options.readyTimeoutMs ?? 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${spec.port}`, adminUrl, pid: child.pid, stop };
}

/** One real sign-in through the IdP's login form; returns the headers that carry the session. */
export async function signIn(url: string, username: string): Promise<Record<string, string>> {
  const browser = new BrowserClient();
  const page = await browser.login(`${url}/`, username);
  const cookie = browser.cookie(COOKIE_NAME);
  if (!cookie) throw new Error(`sign-in set no ${COOKIE_NAME} cookie (last answer ${page.status} ${page.url})`);
  return { cookie: `${COOKIE_NAME}=${cookie}` };
}

/**
 * What the load generator will send must reach the upstream (its 200 JSON), not a sign-in
 * redirect or an error page, or the row would measure the wrong thing.
 */
export async function checkReachesUpstream(url: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(url, { headers, redirect: 'manual' });
  const body = await res.text();
  if (res.status !== 200 || !body.includes('"ok":true')) throw new Error(`GET ${url} got ${res.status}, not the upstream's 200`);
}
