import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/index.js';
import { createGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { gatewayConfig, type GatewaySpec } from '../targets/gateway.js';

/**
 * Child process (run with --expose-gc): one gateway replica on a Redis that already holds the
 * sessions. Measures, in this order: the cold start until the store's first resync finished and
 * until the gateway is ready; heap and RSS after a full GC; CPU used over `idleSeconds` with no
 * traffic (the refresh scheduler holds every session, none due). Prints them as one JSON line,
 * then keeps serving until SIGTERM. Logs go where operators' would, at info, but into /dev/null.
 */
const { spec, idleSeconds } = JSON.parse(process.argv[2]!) as { spec: GatewaySpec; idleSeconds: number };
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function resyncsSoFar(gateway: ReturnType<typeof createGateway>): Promise<number> {
  const metric = await gateway.metrics.syncEvents.get();
  return metric.values.find((v) => v.labels.event === 'resync')?.value ?? 0;
}

async function main(): Promise<void> {
  const config = parseConfig(gatewayConfig(spec), { baseDir: process.cwd(), env: {} });
  const logger = createLogger({ level: config.log.level, destination: new Writable({ write: (_c, _e, done) => done() }) });
  gc!();
  const heapBefore = process.memoryUsage().heapUsed;
  const cpuAtStart = process.cpuUsage();
  const started = performance.now();
  const gateway = createGateway(config, { logger });
  await gateway.listen();
  let resyncMs: number | undefined;
  while (!gateway.isReady() || resyncMs === undefined) {
    if (resyncMs === undefined && (await resyncsSoFar(gateway)) > 0) resyncMs = performance.now() - started;
    if (performance.now() - started > 600_000) throw new Error('the replica did not become ready within 10 minutes');
    await sleep(1);
  }
  const readyMs = performance.now() - started;
  // CPU time is what other work on a busy machine disturbs least: wall time waits for a core, this does not
  const startCpu = process.cpuUsage(cpuAtStart);
  const startCpuMs = (startCpu.user + startCpu.system) / 1000;
  process.once('SIGTERM', () => {
    gateway.close().finally(() => process.exit(0));
  });

  // let start-up work (key loads, first timers) settle before measuring what stays
  await sleep(500);
  gc!();
  gc!();
  const memory = process.memoryUsage();
  const cpuBefore = process.cpuUsage();
  const idleStarted = performance.now();
  await sleep(idleSeconds * 1000);
  const cpu = process.cpuUsage(cpuBefore);
  const idleCpuPercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - idleStarted)) * 100;
  const scrape = await (await fetch(`http://${config.server.admin_listen}/metrics`)).text();
  const active = /^portcullis_sessions_active (\d+)/m.exec(scrape)?.[1];
  process.stdout.write(
    `${JSON.stringify({
      resyncMs,
      readyMs,
      startCpuMs,
      heapUsed: memory.heapUsed,
      heapBefore,
      rss: memory.rss,
      external: memory.external,
      idleCpuPercent,
      sessionsActive: active === undefined ? undefined : Number(active),
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
});
