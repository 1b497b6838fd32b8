import { fileURLToPath } from 'node:url';
import { parseConfig, type Config } from '../../src/config/index.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import type { Clock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/observability/logger.js';
import { BrowserClient } from './browser-client.js';
import { gatewayClient, startTestIdp, type DemoIdp, type DemoIdpClient, type DemoIdpOptions, TEST_CLIENT_ID, TEST_CLIENT_SECRET } from './idp.js';
import { freePorts } from './ports.js';
export { eventually } from './eventually.js';
import { startUpstream, type Upstream } from './upstream.js';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
export const COOKIE_SECRET = 'a-test-cookie-secret-that-is-long-enough-0123456789';

export interface Replica {
  gateway: Gateway;
  config: Config;
  /** http://127.0.0.1:PORT — the replica's public_url and its route */
  url: string;
  adminUrl: string;
}

/** What a replica's config is built from; `ports` are every replica's proxy ports (a shared route table). */
export interface StackReplicaContext {
  url: string;
  upstream: Upstream;
  port: number;
  ports: readonly number[];
}

export interface StackOptions {
  /** how many gateway replicas (each on its own port, sharing cookie secret and store) */
  replicas?: number;
  store?: { kind: 'memory' } | { kind: 'redis'; url: string; keyPrefix?: string };
  idp?: Partial<DemoIdpOptions>;
  /** more IdP clients next to the gateway's own (machine clients for bearer tokens) */
  extraClients?: DemoIdpClient[];
  /** extra config merged into each replica's raw config (shallow per top-level section) */
  config?: (ctx: StackReplicaContext) => Record<string, unknown>;
  /** routes for each replica; default: the replica's own origin → upstream, policy everyone */
  routes?: (ctx: StackReplicaContext) => unknown[];
  /** leave the IdP stopped (readiness tests start it later with `startIdp`) */
  idpDown?: boolean;
  logLevel?: string;
  /** where the gateways' logs go (stdout when absent) */
  logDestination?: { write(line: string): unknown };
  /** the gateways' clock (tests move time to exercise idle and absolute expiry) */
  clock?: Clock;
  /** policies_dir relative to test/fixtures (default "policies") */
  policiesDir?: string;
  /** gateway.reload() builds the config again (calling `config` and `routes` anew) */
  reloadable?: boolean;
}

export interface Stack {
  replicas: Replica[];
  url: string;
  adminUrl: string;
  upstream: Upstream;
  idp: DemoIdp | undefined;
  idpPort: number;
  issuer: string;
  browser(): BrowserClient;
  /** starts the IdP (after idpDown) on its reserved port */
  startIdp(): Promise<DemoIdp>;
  stopIdp(): Promise<void>;
  close(): Promise<void>;
}

/** A real IdP, a real upstream and N gateways in this process, on free ports. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  // ports are chosen before the servers bind them; another test's server can slip in between
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/EADDRINUSE|already in use/.test(String(error))) throw error;
    }
  }
}

async function startStackOnce(options: StackOptions): Promise<Stack> {
  const count = options.replicas ?? 1;
  const upstream = await startUpstream();
  const allPorts = await freePorts(2 * count + 1);
  const ports = allPorts.slice(0, count);
  const adminPorts = allPorts.slice(count, 2 * count);
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const idpPort = allPorts[2 * count]!;
  const issuer = `http://localhost:${idpPort}`;
  const clients = [
    {
      ...gatewayClient(urls[0]!),
      redirect_uris: urls.map((u) => `${u}/.portcullis/callback`),
      post_logout_redirect_uris: urls.map((u) => `${u}/.portcullis/signed-out`),
    },
    ...(options.extraClients ?? []),
  ];
  let idp: DemoIdp | undefined;
  const startIdp = async () => {
    idp = await startTestIdp({ port: idpPort, clients, ...options.idp });
    return idp;
  };
  const replicas: Replica[] = [];
  try {
    if (!options.idpDown) await startIdp();
    for (let i = 0; i < count; i++) {
      const url = urls[i]!;
      const ctx = { url, upstream, port: ports[i]!, ports };
      const rawConfig = () => {
        const extra = options.config?.(ctx) ?? {};
        const section = (name: string) => (extra[name] ?? {}) as Record<string, unknown>;
        const store = options.store ?? { kind: 'memory' };
        return {
          ...extra,
          server: { listen: `127.0.0.1:${ports[i]}`, admin_listen: `127.0.0.1:${adminPorts[i]}`, public_url: url, ...section('server') },
          idp: { issuer, client_id: TEST_CLIENT_ID, client_secret: TEST_CLIENT_SECRET, allow_insecure_http: true, ...section('idp') },
          cookie: { secret: COOKIE_SECRET, ...section('cookie') },
          session: {
            store: store.kind,
            ...(store.kind === 'redis' ? { redis: { url: store.url, key_prefix: store.keyPrefix ?? 'portcullis:' } } : {}),
            ...section('session'),
          },
          routes: options.routes?.(ctx) ?? [{ from: url, to: upstream.url, policy: 'everyone', websockets: true }],
          policies_dir: options.policiesDir ?? 'policies',
          log: { level: options.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent' },
        };
      };
      const parse = () => parseConfig(rawConfig(), { baseDir: FIXTURES, env: process.env });
      const config = parse();
      const gateway = createGateway(config, {
        logger: createLogger({ level: config.log.level, name: `gw${i}`, ...(options.logDestination ? { destination: options.logDestination } : {}) }),
        replicaId: `replica-${i}`,
        ...(options.clock ? { clock: options.clock } : {}),
        oidc: { discoveryRetryInitialMs: 100, discoveryRetryMaxMs: 500 },
        ...(options.reloadable ? { reloadSource: { configPath: '(test)', load: async () => parse() } } : {}),
      });
      await gateway.listen();
      replicas.push({ gateway, config, url, adminUrl: `http://127.0.0.1:${adminPorts[i]}` });
    }
  } catch (error) {
    await Promise.allSettled(replicas.map((r) => r.gateway.close()));
    await idp?.close();
    await upstream.close();
    throw error;
  }

  return {
    replicas,
    url: urls[0]!,
    adminUrl: replicas[0]!.adminUrl,
    upstream,
    get idp() {
      return idp;
    },
    idpPort,
    issuer,
    browser: () => new BrowserClient(),
    startIdp,
    async stopIdp() {
      await idp?.close();
      idp = undefined;
    },
    async close() {
      await Promise.allSettled(replicas.map((r) => r.gateway.close()));
      await idp?.close();
      await upstream.close();
    },
  };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */

/**
 * Goes through the IdP sign-in for `startUrl` but stops before the gateway's callback:
 * returns the callback URL the IdP sent the browser to (to inspect or replay it).
 */
export async function signInUntilCallback(browser: BrowserClient, startUrl: string, username: string): Promise<string> {
  let res = await browser.get(startUrl);
  for (let hop = 0; hop < 20; hop++) {
    if (res.status >= 300 && res.status < 400 && res.location) {
      if (res.location.includes('/.portcullis/callback')) return res.location;
      res = await browser.get(res.location, { chain: res.chain });
    } else if (res.body.includes('<form')) {
      res = await browser.submit(res, { login: username, password: 'any' });
    } else {
      break;
    }
  }
  throw new Error(`did not reach the callback: ${res.status} ${res.url}`);
}
