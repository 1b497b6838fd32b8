import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/index.js';
import { systemClock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createSessionStore } from '../../src/session/create-store.js';
import { COOKIE_NAME, COOKIE_SECRET, gatewayConfig, type GatewaySpec } from '../targets/gateway.js';
import { benchSession, sessionCookie, type SeededSession } from './sessions.js';

/**
 * Child process: writes `count` sessions into Redis through the gateway's own store (the same
 * config as the replicas, so the same keys, codec, Lua scripts and token encryption). Many
 * creates are in flight at once, so ioredis pipelines them on its one connection. Prints
 * `{seconds, sessions, keep}` where `keep` are the first `keep` sessions' cookies.
 */
const { spec, count, keep } = JSON.parse(process.argv[2]!) as { spec: GatewaySpec; count: number; keep: number };
const IN_FLIGHT = 1000;

async function main(): Promise<void> {
  const config = parseConfig(gatewayConfig(spec), { baseDir: process.cwd(), env: {} });
  const silent = new Writable({ write: (_chunk, _enc, done) => done() });
  const store = createSessionStore(config, { clock: systemClock, logger: createLogger({ level: 'warn', destination: silent }), metrics: createMetrics({ defaultMetrics: false }) });
  await store.start();
  const nextCookie = sessionCookie(COOKIE_NAME, COOKIE_SECRET);
  const kept: SeededSession[] = [];
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const now = Date.now();
      const { id, seeded } = nextCookie(now);
      if (i < keep) kept[i] = seeded;
      await store.create(benchSession(i, id, now));
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count) }, worker));
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  process.stdout.write(`${JSON.stringify({ seconds, sessions: count, keep: kept })}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(2);
  },
);
