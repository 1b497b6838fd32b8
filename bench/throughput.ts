import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../test/support/ports.js';
import { startRedis, type RedisServer } from '../test/support/redis-server.js';
import { gatewayClient, startTestIdp, type DemoIdp } from '../test/support/idp.js';
import { startNodeChild, stopAll } from './lib/child.js';
import { cpuSeconds } from './lib/cpu.js';
import { machine } from './lib/machine.js';
import type { BenchOptions } from './lib/options.js';
import type { LoadResult, LoadTool } from './load/types.js';
import { combineRounds, median } from './report/stats.js';
import { barChart } from './report/svg.js';
import { startNginx } from './targets/nginx.js';
import { checkReachesUpstream, IMAGE_NODE_FLAGS, signIn, startGatewayProcess } from './targets/gateway.js';

/**
 * `npm run bench`: every target in its own process in front of the same upstream process, driven
 * by one load generator process (wrk, else autocannon), interleaved round by round so a change in
 * machine load hits all of them alike. Each figure is the median over rounds. Prints req/s, p50,
 * p99 and the gateway's ratios against the baselines; writes latest.json and latest.svg. Never
 * passes or fails on absolute numbers: they belong to the machine.
 */
interface Target {
  name: string;
  label: string;
  group: 'baseline' | 'gateway';
  url: string;
  /** the measured process (nginx: its master; the worker's CPU is counted with it) */
  pid: number;
  headers?: Record<string, string>;
}

/** A round's figures plus the CPU the target process spent per request (µs), from /proc. */
type Round = LoadResult & { cpuUsPerRequest: number };

const BASELINES = ['http-proxy-3', 'undici', 'nginx'] as const;
const ALL = ['upstream', 'nginx', 'undici', 'http-proxy-3', 'gateway-public', 'gateway-session-memory', 'gateway-session-redis'];

export async function runThroughput(options: BenchOptions, tool: LoadTool): Promise<void> {
  const wanted = new Set(options.targets ?? ALL);
  for (const name of wanted) if (!ALL.includes(name)) throw new Error(`unknown target ${name}; known: ${ALL.join(', ')}`);
  const stoppers: Array<{ stop(): Promise<void> } | undefined> = [];
  const targets: Target[] = [];
  const skipped: Array<{ name: string; reason: string }> = [];
  let redis: RedisServer | undefined;
  let idp: DemoIdp | undefined;
  const loadAtStart = Number(loadavg()[0]!.toFixed(2));
  try {
    const upstream = await startNodeChild<{ url: string }>(new URL('./targets/upstream.js', import.meta.url));
    stoppers.push(upstream.child);
    const up = upstream.hello.url;
    if (wanted.has('upstream')) targets.push({ name: 'upstream', label: 'upstream alone', group: 'baseline', url: up, pid: upstream.child.pid });

    if (wanted.has('nginx')) {
      const nginx = await startNginx(up);
      if ('skipped' in nginx) skipped.push({ name: 'nginx', reason: nginx.skipped });
      else {
        stoppers.push(nginx);
        targets.push({ name: 'nginx', label: 'nginx, 1 worker', group: 'baseline', url: nginx.url, pid: nginx.pid });
      }
    }
    for (const [name, script, label] of [
      ['undici', 'undici-pass', 'node:http + undici dispatch'],
      ['http-proxy-3', 'http-proxy-3', 'http-proxy-3 (keep-alive)'],
    ] as const) {
      if (!wanted.has(name)) continue;
      const started = await startNodeChild<{ url: string }>(new URL(`./targets/${script}.js`, import.meta.url), [up], { nodeArgs: [...IMAGE_NODE_FLAGS] });
      stoppers.push(started.child);
      targets.push({ name, label, group: 'baseline', url: started.hello.url, pid: started.child.pid });
    }

    const gateways = ['gateway-public', 'gateway-session-memory', 'gateway-session-redis'].filter((n) => wanted.has(n));
    if (gateways.length > 0) {
      const ports = await freePorts(2 * gateways.length + 1);
      const urls = gateways.map((_, i) => `http://127.0.0.1:${ports[2 * i]}`);
      idp = await startTestIdp({
        port: ports[2 * gateways.length]!,
        clients: [{ ...gatewayClient(urls[0]!), redirect_uris: urls.map((u) => `${u}/.portcullis/callback`) }],
      });
      if (gateways.includes('gateway-session-redis')) redis = await startRedis();
      for (const [i, name] of gateways.entries()) {
        try {
          const store = name === 'gateway-session-redis' ? { kind: 'redis' as const, url: redis!.url } : { kind: 'memory' as const };
          const gw = await startGatewayProcess({ port: ports[2 * i]!, adminPort: ports[2 * i + 1]!, upstream: up, issuer: idp.issuer, store, public: name === 'gateway-public' });
          stoppers.push(gw);
          const headers = name === 'gateway-public' ? undefined : await signIn(gw.url, 'bench');
          const label = name === 'gateway-public' ? 'Portcullis, public route' : `Portcullis, signed in (${store.kind})`;
          targets.push({ name, label, group: 'gateway', url: gw.url, pid: gw.pid, ...(headers ? { headers } : {}) });
        } catch (error) {
          skipped.push({ name, reason: (error as Error).message });
        }
      }
    }

    // only what reaches the upstream is measured (no login redirects, no error pages)
    for (const target of [...targets]) {
      try {
        await checkReachesUpstream(`${target.url}${options.path}`, target.headers);
      } catch (error) {
        targets.splice(targets.indexOf(target), 1);
        skipped.push({ name: target.name, reason: (error as Error).message });
      }
    }

    console.log(
      `portcullis bench: ${tool.describe}, ${options.connections} connections, GET ${options.path}; ` +
        `${options.warmup}s warm-up, then ${options.rounds} interleaved rounds of ${options.seconds}s per target`,
    );
    for (const s of skipped) console.log(`  skipped ${s.name}: ${s.reason}`);
    const spec = (t: Target, seconds: number) => ({
      url: `${t.url}${options.path}`,
      seconds,
      connections: options.connections,
      ...(t.headers ? { headers: t.headers } : {}),
    });
    if (options.warmup > 0) for (const target of targets) await tool.run(spec(target, options.warmup));
    const measure = async (target: Target): Promise<Round> => {
      const cpuBefore = cpuSeconds(target.pid);
      const result = await tool.run(spec(target, options.seconds));
      return { ...result, cpuUsPerRequest: ((cpuSeconds(target.pid) - cpuBefore) / Math.max(1, result.requests)) * 1e6 };
    };
    const rounds = new Map<string, Round[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < options.rounds; round++) {
      // each round starts one target further on, so no target always runs right after another
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const target of order) rounds.get(target.name)!.push(await measure(target));
      console.log(`  round ${round + 1}/${options.rounds} done`);
    }
    report(options, tool, targets, rounds, skipped, loadAtStart);
  } finally {
    await stopAll(stoppers);
    await idp?.close();
    await redis?.close();
  }
}

function report(
  options: BenchOptions,
  tool: LoadTool,
  targets: Target[],
  rounds: Map<string, Round[]>,
  skipped: Array<{ name: string; reason: string }>,
  loadAtStart: number,
): void {
  const rows = targets.map((t) => {
    const list = rounds.get(t.name)!;
    return { name: t.name, label: t.label, group: t.group, ...combineRounds(list), cpuUsPerRequest: median(list.map((r) => r.cpuUsPerRequest)), rounds: list };
  });
  const byName = new Map(rows.map((r) => [r.name, r]));
  const width = Math.max(...rows.map((r) => r.label.length), 10) + 2;
  console.log(`\n${'target'.padEnd(width)}${'req/s'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'CPU µs/req'.padStart(12)}${'errors'.padStart(8)}`);
  for (const r of rows) {
    console.log(
      `${r.label.padEnd(width)}${r.rps.toFixed(0).padStart(10)}${r.p50.toFixed(2).padStart(9)}${r.p99.toFixed(2).padStart(9)}` +
        `${r.cpuUsPerRequest.toFixed(1).padStart(12)}${String(r.errors).padStart(8)}`,
    );
  }
  const ratios = rows
    .filter((r) => r.group === 'gateway')
    .flatMap((r) =>
      BASELINES.filter((b) => byName.has(b)).map((b) => {
        const base = byName.get(b)!;
        // each round's own ratio, then their median: both sides of a ratio ran seconds apart, so
        // a slow stretch of a shared machine cancels out instead of landing on one side
        const paired = median(r.rounds.map((round, i) => round.rps / (base.rounds[i]?.rps ?? NaN)));
        // a neighbour on a shared machine only ever slows a round down: each side's fastest round
        // is the nearest to what it can do, so their ratio is the least disturbed one
        const best = Math.max(...r.rounds.map((round) => round.rps)) / Math.max(...base.rounds.map((round) => round.rps));
        return {
          target: r.name,
          vs: b,
          rps: r.rps / base.rps,
          rpsPaired: paired,
          rpsBest: best,
          p99DeltaMs: r.p99 - base.p99,
          cpuPerRequest: r.cpuUsPerRequest / base.cpuUsPerRequest,
        };
      }),
    );
  console.log('');
  for (const r of rows.filter((row) => row.group === 'gateway')) {
    const mine = ratios.filter((x) => x.target === r.name);
    const parts = mine.map(
      (x) => `${x.rps.toFixed(2)}× ${x.vs} (per round ${x.rpsPaired.toFixed(2)}×, best rounds ${x.rpsBest.toFixed(2)}×, p99 ${x.p99DeltaMs >= 0 ? '+' : ''}${x.p99DeltaMs.toFixed(2)} ms, CPU/req ${x.cpuPerRequest.toFixed(2)}×)`,
    );
    console.log(`${r.name}: ${parts.join(', ')}`);
    if (r.errors > 0) console.log(`  note: ${r.errors} answers were errors (non-2xx or socket errors)`);
  }

  const date = new Date().toISOString();
  const result = {
    kind: 'throughput',
    date,
    machine: { ...machine(), loadAverage1mAtStart: loadAtStart },
    tool: tool.describe,
    options: { seconds: options.seconds, warmup: options.warmup, rounds: options.rounds, connections: options.connections, path: options.path },
    targets: rows,
    ratios,
    skipped,
  };
  mkdirSync(options.out, { recursive: true });
  writeFileSync(join(options.out, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  const k = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));
  const svg = barChart(
    'Portcullis request path: req/s (higher is better)',
    `${tool.describe} -c${options.connections}, median of ${options.rounds}×${options.seconds}s, ${result.machine.cpus} cores ` +
      `(load avg ${result.machine.loadAverage1m}), Node ${process.version}, ${date.slice(0, 10)}`,
    rows.map((r) => ({
      label: r.label,
      value: r.rps,
      group: r.group,
      note: `${k(r.rps)} req/s · p99 ${r.p99.toFixed(1)} ms · ${r.cpuUsPerRequest.toFixed(0)} µs CPU/req`,
    })),
  );
  writeFileSync(join(options.out, 'latest.svg'), svg);
  console.log(`\nwrote ${join(options.out, 'latest.json')} and latest.svg`);
}
