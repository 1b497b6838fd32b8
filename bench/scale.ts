import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../src/config/index.js';
import { systemClock } from '../src/lib/clock.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { createSessionStore } from '../src/session/create-store.js';
import type { SessionStore } from '../src/session/store.js';
import { gatewayClient, startTestIdp, type DemoIdp } from '../test/support/idp.js';
import { freePorts } from '../test/support/ports.js';
import { startRedis, type RedisServer } from '../test/support/redis-server.js';
import { startNodeChild, stopAll, type Child } from './lib/child.js';
import { machine } from './lib/machine.js';
import type { BenchOptions } from './lib/options.js';
import type { LoadTool } from './load/types.js';
import { measureLogoutPropagation } from './scale/logouts.js';
import type { SeededSession } from './scale/sessions.js';
import { gatewayConfig, IMAGE_NODE_FLAGS, type GatewaySpec } from './targets/gateway.js';

/**
 * `npm run bench -- scale [--sessions N]`: N sessions written into a real Redis, then replicas
 * started cold against it (resync time, heap per mirrored session, RSS, idle CPU), then logout
 * propagation between two replicas over `--logouts` logouts while both serve load.
 */
interface ReplicaReport {
  resyncMs: number;
  readyMs: number;
  /** until a request with a seeded session's cookie was answered by the upstream */
  firstServedMs: number | undefined;
  /** CPU the replica spent from creating the gateway until ready */
  startCpuMs: number;
  heapUsed: number;
  heapBefore: number;
  rss: number;
  external: number;
  idleCpuPercent: number;
  sessionsActive: number | undefined;
  /** after reading `--mirror-max` seeded sessions once each through the store (replica A of a bounded run) */
  filled?: { seconds: number; served: number; heapUsed: number; rss: number; sessionsActive: number | undefined };
}

const PREFIX = 'portcullis:';
const MB = 2 ** 20;

export async function runScale(options: BenchOptions, tool: LoadTool): Promise<void> {
  const stoppers: Array<{ stop(): Promise<void> } | undefined> = [];
  let redis: RedisServer | undefined;
  let idp: DemoIdp | undefined;
  let observer: SessionStore | undefined;
  const loadAtStart = Number(loadavg()[0]!.toFixed(2));
  try {
    redis = await startRedis();
    const upstream = await startNodeChild<{ url: string }>(new URL('./targets/upstream.js', import.meta.url));
    stoppers.push(upstream.child);
    const ports = await freePorts(7);
    const urls = [0, 2, 4].map((i) => `http://127.0.0.1:${ports[i]}`);
    idp = await startTestIdp({
      port: ports[6]!,
      clients: [
        {
          ...gatewayClient(urls[0]!),
          redirect_uris: urls.map((u) => `${u}/.portcullis/callback`),
          post_logout_redirect_uris: urls.map((u) => `${u}/.portcullis/signed-out`),
        },
      ],
    });
    const spec = (n: number, keyPrefix: string): GatewaySpec => ({
      port: ports[2 * n]!,
      adminPort: ports[2 * n + 1]!,
      upstream: upstream.hello.url,
      issuer: idp!.issuer,
      store: { kind: 'redis', url: redis!.url, keyPrefix, ...(options.mirrorMax > 0 ? { mirrorMaxSessions: options.mirrorMax } : {}) },
      public: false,
    });
    const bound = options.mirrorMax > 0 ? `mirror bounded at ${options.mirrorMax.toLocaleString('en')}` : 'mirror unbounded';
    console.log(`portcullis bench scale: ${options.sessions.toLocaleString('en')} sessions (${bound}), ${options.logouts} logouts, load by ${tool.describe}`);

    // 1. sessions into Redis, through the store's own code
    const keep = options.logouts + 1;
    const seed = await startNodeChild<{ seconds: number; cpuSeconds: number; sessions: number; keep: SeededSession[] }>(
      new URL('./scale/seed.js', import.meta.url),
      [JSON.stringify({ spec: spec(0, PREFIX), count: options.sessions, keep })],
      { nodeArgs: ['--max-old-space-size=8192'], timeoutMs: 3_600_000 },
    );
    await seed.child.stop();
    const info = await redis.client().info('memory');
    const redisBytes = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
    console.log(
      `  wrote ${seed.hello.sessions.toLocaleString('en')} sessions in ${seed.hello.seconds.toFixed(1)}s ` +
        `(${(seed.hello.sessions / seed.hello.seconds).toFixed(0)}/s, writer CPU ${seed.hello.cpuSeconds.toFixed(1)}s); Redis holds ${(redisBytes / MB).toFixed(0)} MB`,
    );

    // 2. replicas, cold: one on an empty prefix (what a replica costs with no sessions), then two on the sessions
    const fillFile = join(tmpdir(), `portcullis-bench-fill-${process.pid}.txt`);
    // a bounded run fills replica A's mirror to its bound: that many seeded handles, from the refresh queue
    // (the seed's own hello line stays small: a child's first line is its whole report)
    const fillHandles = options.mirrorMax > 0 ? await redis.client().zrange(`${PREFIX}r`, 0, options.mirrorMax - 1) : [];
    writeFileSync(fillFile, `${fillHandles.join('\n')}\n`);
    const startReplica = async (n: number, keyPrefix: string, extra: { probeCookie?: string; fillFile?: string } = {}): Promise<{ child: Child; report: ReplicaReport }> => {
      const { child, hello } = await startNodeChild<ReplicaReport>(
        new URL('./scale/replica.js', import.meta.url),
        [JSON.stringify({ spec: spec(n, keyPrefix), idleSeconds: options.idleSeconds, ...extra })],
        // BENCH_REPLICA_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the replicas
        { nodeArgs: ['--expose-gc', ...IMAGE_NODE_FLAGS, ...(process.env.BENCH_REPLICA_NODE_ARGS?.split(' ').filter(Boolean) ?? [])], timeoutMs: 1_800_000 },
      );
      stoppers.push(child);
      return { child, report: hello };
    };
    const empty = await startReplica(2, 'empty:');
    await empty.child.stop();
    const probeCookie = seed.hello.keep[0]!.cookie;
    const a = await startReplica(0, PREFIX, { probeCookie, ...(options.mirrorMax > 0 ? { fillFile } : {}) });
    const b = await startReplica(1, PREFIX, { probeCookie });
    rmSync(fillFile, { force: true });
    const perSession = (r: ReplicaReport) => (r.heapUsed - empty.report.heapUsed) / (r.sessionsActive ?? options.sessions);
    const line = (name: string, r: ReplicaReport) =>
      `  ${name.padEnd(24)}${`${r.resyncMs.toFixed(0)} ms`.padStart(11)}${`${r.readyMs.toFixed(0)} ms`.padStart(10)}${`${r.startCpuMs.toFixed(0)} ms`.padStart(11)}` +
      `${`${(r.heapUsed / MB).toFixed(1)} MB`.padStart(11)}${`${(r.rss / MB).toFixed(0)} MB`.padStart(9)}${`${r.idleCpuPercent.toFixed(2)} %`.padStart(10)}` +
      `${String(r.sessionsActive ?? '?').padStart(10)}`;
    console.log(`\n  ${'replica'.padEnd(24)}${'resync'.padStart(11)}${'ready'.padStart(10)}${'start CPU'.padStart(11)}${'heap'.padStart(11)}${'RSS'.padStart(9)}${'idle CPU'.padStart(10)}${'mirrored'.padStart(10)}`);
    console.log(line('empty prefix (baseline)', empty.report));
    console.log(line('replica A (cold)', a.report));
    console.log(line('replica B (cold)', b.report));
    // a bounded mirror starts (nearly) empty: the per-session figure comes from the fill below
    if (options.mirrorMax === 0) console.log(`  heap per mirrored session: ${perSession(a.report).toFixed(0)} B (A), ${perSession(b.report).toFixed(0)} B (B)`);
    const first = (r: ReplicaReport) => (r.firstServedMs === undefined ? '?' : `${r.firstServedMs.toFixed(0)} ms`);
    console.log(`  first request served with a seeded session after: ${first(a.report)} (A), ${first(b.report)} (B)`);
    const filled = a.report.filled;
    if (filled) {
      const perEntry = (filled.heapUsed - empty.report.heapUsed) / (filled.sessionsActive ?? filled.served);
      console.log(
        `  A after reading ${filled.served.toLocaleString('en')} seeded sessions once each (${filled.seconds.toFixed(1)} s): ` +
          `heap ${(filled.heapUsed / MB).toFixed(1)} MB, RSS ${(filled.rss / MB).toFixed(0)} MB, mirrored ${filled.sessionsActive ?? '?'}, ${perEntry.toFixed(0)} B per mirrored session`,
      );
    }

    // 3. logout propagation under load
    const config = parseConfig(gatewayConfig(spec(0, PREFIX)), { baseDir: process.cwd(), env: {} });
    const silent = new Writable({ write: (_c, _e, done) => done() });
    observer = createSessionStore(config, { clock: systemClock, logger: createLogger({ level: 'warn', destination: silent }), metrics: createMetrics({ defaultMetrics: false }) });
    await observer.start();
    const [load, ...toLogOut] = seed.hello.keep;
    const propagation = await measureLogoutPropagation({
      replicas: [urls[0]!, urls[1]!],
      sessions: toLogOut,
      observer,
      tool,
      loadHeaders: { cookie: load!.cookie },
      loadConnections: options.loadConnections,
      path: options.path,
    });
    const ms = (s: { p50: number; p99: number; max: number }) => `p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(2)} ms`;
    console.log(
      `\n  logout propagation, ${propagation.logouts} logouts alternating between A and B while each serves ` +
        `${propagation.backgroundRps.map((r) => r.toFixed(0)).join(' / ')} req/s (-c${options.loadConnections} each):`,
    );
    console.log(`    other replica refuses the cookie:   ${ms(propagation.refusedMs)}`);
    console.log(`      counted from the logout's answer: ${ms(propagation.refusedAfterAnswerMs)}`);
    console.log(`    a third replica's store tombstone:  ${ms(propagation.tombstoneMs)}`);
    console.log(`    the logout request itself:          ${ms(propagation.logoutMs)}`);
    if (propagation.failures > 0) console.log(`    ${propagation.failures} logouts did not propagate within 5 s or failed`);
    if (propagation.backgroundErrors > 0) console.log(`    ${propagation.backgroundErrors} background requests failed`);

    const result = {
      kind: 'scale',
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverage1mAtStart: loadAtStart },
      tool: tool.describe,
      sessions: options.sessions,
      seed: { seconds: seed.hello.seconds, cpuSeconds: seed.hello.cpuSeconds, perSecond: seed.hello.sessions / seed.hello.seconds, redisUsedMemoryBytes: redisBytes },
      replicas: { empty: empty.report, a: a.report, b: b.report },
      heapPerMirroredSessionBytes: { a: perSession(a.report), b: perSession(b.report) },
      propagation,
      options: { mirrorMax: options.mirrorMax, logouts: options.logouts, idleSeconds: options.idleSeconds, loadConnections: options.loadConnections },
    };
    mkdirSync(options.out, { recursive: true });
    const file = join(options.out, `scale-${options.sessions}${options.mirrorMax > 0 ? `-mirror${options.mirrorMax}` : ''}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwrote ${file}`);
  } finally {
    await observer?.close();
    await stopAll(stoppers);
    await idp?.close();
    await redis?.close();
  }
}
