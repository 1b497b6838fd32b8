import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../test/support/ports.js';

export type GatewayTarget = { url: string; close(): Promise<void> } | { skipped: string };

const here = dirname(fileURLToPath(import.meta.url));
/** dist/bench → the repository root (config, policies) */
const root = resolve(here, '../..');

interface GatewayModule {
  createGateway(config: unknown, options?: { logger?: unknown }): {
    listen(): Promise<unknown>;
    close(): Promise<void>;
  };
}
interface ConfigModule {
  parseConfig(raw: unknown, options: { baseDir: string; env: NodeJS.ProcessEnv }): unknown;
}
interface LoggerModule {
  createLogger(options: { level: string }): unknown;
}

/**
 * The real gateway in front of `upstream` on a public route (route match, context, header
 * hygiene, forward; no login, since a benchmark has no IdP). Loaded dynamically so the benchmark
 * still runs, with a message, while src/gateway.ts is missing or incomplete.
 */
export async function startGatewayTarget(upstream: string): Promise<GatewayTarget> {
  const gatewayFile = resolve(here, '../src/gateway.js');
  if (!existsSync(gatewayFile)) return { skipped: 'src/gateway.ts is not built yet' };
  let gatewayModule: Partial<GatewayModule>;
  let configModule: Partial<ConfigModule>;
  let loggerModule: Partial<LoggerModule>;
  try {
    gatewayModule = (await import(new URL('../src/gateway.js', import.meta.url).href)) as Partial<GatewayModule>;
    configModule = (await import(new URL('../src/config/index.js', import.meta.url).href)) as Partial<ConfigModule>;
    loggerModule = (await import(new URL('../src/observability/logger.js', import.meta.url).href)) as Partial<LoggerModule>;
  } catch (error) {
    return { skipped: `the gateway does not load yet (${(error as Error).message})` };
  }
  if (typeof gatewayModule.createGateway !== 'function') return { skipped: 'src/gateway.ts does not export createGateway' };
  if (typeof configModule.parseConfig !== 'function') return { skipped: 'src/config does not export parseConfig' };

  const [port, adminPort, idpPort] = await freePorts(3);
  const raw = {
    server: {
      listen: `127.0.0.1:${port}`,
      admin_listen: `127.0.0.1:${adminPort}`,
      public_url: `http://127.0.0.1:${port}`,
    },
    // nothing listens there: the public route needs no login, discovery just keeps retrying
    idp: { issuer: `http://127.0.0.1:${idpPort}`, client_id: 'bench', client_secret: 'bench', allow_insecure_http: true },
    cookie: { secret: 'bench-only-cookie-secret-0123456789abcdef', secure: false },
    routes: [{ from: `http://127.0.0.1:${port}/`, to: upstream, public: true }],
    log: { level: 'silent' },
  };
  try {
    const config = configModule.parseConfig(raw, { baseDir: root, env: {} });
    const logger = loggerModule.createLogger?.({ level: 'silent' });
    const gateway = gatewayModule.createGateway(config, logger ? { logger } : {});
    await gateway.listen();
    return { url: `http://127.0.0.1:${port}`, close: () => gateway.close() };
  } catch (error) {
    return { skipped: `the gateway did not start (${(error as Error).message})` };
  }
}
