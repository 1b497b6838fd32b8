import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/index.js';
import { createGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { gatewayConfig, type GatewaySpec } from '../targets/gateway.js';

/**
 * Child process (run with --expose-gc): one gateway replica on a Redis that already holds the
 * sessions. Measures, in this order: the cold start until the store's first resync finished, until
 * the gateway is ready, and until a request with `probeCookie` (a seeded session) is first served; heap and RSS after a full GC; CPU used over `idleSeconds` with no
 * traffic (the refresh scheduler holds every session, none due). Prints them as one JSON line,
 * then keeps serving until SIGTERM. Logs go where operators' would, at info, but into /dev/null.
 */
const { spec, idleSeconds, probeCookie, probeHandle, fillFile } = JSON.parse(process.argv[2]!) as {
  spec: GatewaySpec;
  idleSeconds: number;
  /** a seeded session's cookie: time to the first request served with it (none on an empty prefix) */
  probeCookie?: string;
  /** or a seeded session's handle: time until the store first returns it (the request path's read, without HTTP) */
  probeHandle?: string;
  /** a file of seeded sessions' handles, one a line: each read once through the store after the idle window (as a request would), then heap again */
  fillFile?: string;
};
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
  let firstServedMs: number | undefined;
  const probe = (async () => {
    while (probeHandle !== undefined && firstServedMs === undefined && performance.now() - started < 600_000) {
      if (await gateway.store.get(probeHandle)) firstServedMs = performance.now() - started;
      else await sleep(5);
    }
    while (probeCookie !== undefined && firstServedMs === undefined && performance.now() - started < 600_000) {
      try {
        const response = await fetch(`http://${config.server.listen}/`, { headers: { cookie: probeCookie }, redirect: 'manual' });
        await response.arrayBuffer();
        if (response.status === 200) firstServedMs = performance.now() - started;
      } catch {
        // not listening yet
      }
      if (firstServedMs === undefined) await sleep(5);
    }
  })();
  let resyncMs: number | undefined;
  while (!gateway.isReady() || resyncMs === undefined) {
    if (resyncMs === undefined && (await resyncsSoFar(gateway)) > 0) resyncMs = performance.now() - started;
    if (performance.now() - started > 600_000) throw new Error('the replica did not become ready within 10 minutes');
    await sleep(1);
  }
  const readyMs = performance.now() - started;
  await probe;
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
  // V8 sweeps the heap a full GC leaves behind on background threads: that is the GC's cost, not idle
  await sleep(2000);
  const memory = process.memoryUsage();
  const cpuBefore = process.cpuUsage();
  const idleStarted = performance.now();
  await sleep(idleSeconds * 1000);
  const cpu = process.cpuUsage(cpuBefore);
  const idleCpuPercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - idleStarted)) * 100;
  const activeNow = async (): Promise<number | undefined> => {
    const scrape = await (await fetch(`http://${config.server.admin_listen}/metrics`)).text();
    const active = /^portcullis_sessions_active (\d+)/m.exec(scrape)?.[1];
    return active === undefined ? undefined : Number(active);
  };
  const sessionsActive = await activeNow();
  let filled: { seconds: number; served: number; heapUsed: number; rss: number; sessionsActive: number | undefined } | undefined;
  if (fillFile) {
    const handles = readFileSync(fillFile, 'utf8').split('\n').filter(Boolean);
    const fillStarted = performance.now();
    let next = 0;
    let served = 0;
    const worker = async (): Promise<void> => {
      while (next < handles.length) {
        // the request path's read (a miss costs one GET), without HTTP: a loaded machine serves too few requests a second to fill 100k
        if (await gateway.store.get(handles[next++]!)) served++;
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    const seconds = (performance.now() - fillStarted) / 1000;
    await sleep(500);
    gc!();
    gc!();
    await sleep(2000);
    const after = process.memoryUsage();
    filled = { seconds, served, heapUsed: after.heapUsed, rss: after.rss, sessionsActive: await activeNow() };
  }
  process.stdout.write(
    `${JSON.stringify({
      resyncMs,
      readyMs,
      firstServedMs,
      startCpuMs,
      heapUsed: memory.heapUsed,
      heapBefore,
      rss: memory.rss,
      external: memory.external,
      idleCpuPercent,
      sessionsActive,
      filled,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
});
