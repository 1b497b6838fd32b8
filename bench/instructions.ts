import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../test/support/ports.js';
import { startRedis, type RedisServer } from '../test/support/redis-server.js';
import { gatewayClient, startTestIdp, type DemoIdp } from '../test/support/idp.js';
import { startNodeChild, stopAll, until } from './lib/child.js';
import { machine } from './lib/machine.js';
import type { BenchOptions } from './lib/options.js';
import { checkReachesUpstream, signIn, startGatewayProcess } from './targets/gateway.js';
import { onPath } from './targets/nginx.js';

/**
 * `npm run bench -- instructions`: the machine instructions each target process executes per
 * request, counted by valgrind's callgrind. Unlike req/s and CPU time these do not drift with a
 * shared machine's speed, whatever else runs beside them: on Node 26 two runs agreed within
 * 1.5 % for the gateway. On Node 20 they do not settle (V8 there keeps recompiling under valgrind:
 * one build's public route gave 177k–225k), so use Node 26. What V8 compiles meanwhile is
 * reported apart (the JIT compiling column) and left out of the ratios. They count user space only (not the
 * kernel's half of every socket call) and not the load generator or the upstream, so they bound
 * what the code costs, not the req/s a machine reaches. Each target runs alone under callgrind
 * with counting off, takes `warmupRequests` (JIT tiers settle), then `requests` are counted from 8
 * keep-alive connections. nginx is not measured (its worker is a child process).
 */
const TARGETS = ['undici', 'http-proxy-3', 'gateway-public', 'gateway-session-memory', 'gateway-session-redis'] as const;
type TargetName = (typeof TARGETS)[number];
const BASELINES: TargetName[] = ['http-proxy-3', 'undici'];
const LABELS: Record<TargetName, string> = {
  undici: 'node:http + undici dispatch',
  'http-proxy-3': 'http-proxy-3 (keep-alive)',
  'gateway-public': 'Portcullis, public route',
  'gateway-session-memory': 'Portcullis, signed in (memory)',
  'gateway-session-redis': 'Portcullis, signed in (redis)',
};
const CONCURRENCY = 8;
/** under valgrind everything starts ~20× slower */
const START_TIMEOUT_MS = 300_000;

export interface CallgrindTotals {
  /** every instruction counted, all threads */
  total: number;
  /** of which V8's JIT compilers (tiering that had not settled yet): reported apart */
  compiling: number;
}

const COMPILER = /v8::internal::(compiler|maglev|turboshaft|baseline|interpreter)::|v8::internal::Compiler::|v8::internal::Zone::/;

/** Reads `callgrind_annotate` output: the program total and what V8's compilers took of it. */
export function parseCallgrindAnnotate(text: string): CallgrindTotals {
  const totalMatch = /^\s*([\d,]+)(?: \([\d.]+%\))?\s+PROGRAM TOTALS/m.exec(text);
  if (!totalMatch) throw new Error('callgrind_annotate printed no PROGRAM TOTALS');
  let compiling = 0;
  for (const line of text.split('\n')) {
    const match = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+\S*?:(.*)$/.exec(line);
    if (match && COMPILER.test(match[2]!)) compiling += Number(match[1]!.replaceAll(',', ''));
  }
  return { total: Number(totalMatch[1]!.replaceAll(',', '')), compiling };
}

/** `n` GETs from CONCURRENCY keep-alive connections; anything but a 200 fails the run. */
async function sendRequests(url: string, headers: Record<string, string>, n: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let left = n;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${url} answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  const worker = async () => {
    while (left-- > 0) await one();
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    agent.destroy();
  }
}

/** Turns counting on in the callgrind-run process `pid` for `work`, dumps, and reads the totals. */
async function countDuring(pid: number, outFile: string, work: () => Promise<void>): Promise<CallgrindTotals> {
  execFileSync('callgrind_control', ['--instr=on', String(pid)], { stdio: 'ignore' });
  try {
    await work();
  } finally {
    execFileSync('callgrind_control', ['--instr=off', String(pid)], { stdio: 'ignore' });
  }
  execFileSync('callgrind_control', ['--dump', String(pid)], { stdio: 'ignore' });
  // the dump is written as <outFile>.1 (the file itself is the final one, at exit)
  const dump = `${outFile}.1`;
  await until(() => existsSync(dump) && statSync(dump).size > 0, 'the callgrind dump', 60_000, 100);
  const text = execFileSync('callgrind_annotate', ['--threshold=100', dump], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return parseCallgrindAnnotate(text);
}

interface Row {
  name: TargetName;
  label: string;
  instructionsPerRequest: number;
  compilingPerRequest: number;
  /** without the JIT compilers: the request path itself */
  steadyPerRequest: number;
}

export async function runInstructions(options: BenchOptions): Promise<void> {
  for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
    if (!onPath(tool)) throw new Error(`the instructions mode needs ${tool} on PATH (Debian package valgrind)`);
  }
  const wanted = options.targets ?? [...TARGETS];
  for (const name of wanted) if (!TARGETS.includes(name as TargetName)) throw new Error(`unknown target ${name} for the instructions mode; known: ${TARGETS.join(', ')}`);
  const work = mkdtempSync(join(tmpdir(), 'portcullis-bench-callgrind-'));
  const stoppers: Array<{ stop(): Promise<void> } | undefined> = [];
  let idp: DemoIdp | undefined;
  let redis: RedisServer | undefined;
  const rows: Row[] = [];
  console.log(
    `portcullis bench (instructions): callgrind, ${options.warmupRequests} warm-up then ${options.requests} counted requests per target, ` +
      `${CONCURRENCY} keep-alive connections, GET ${options.path}, Node ${process.version}`,
  );
  if (Number(process.versions.node.split('.')[0]) < 22) {
    console.log('  note: on Node 20 V8 keeps recompiling under valgrind and the counts vary by up to a third between runs; Node 26 settles');
  }
  try {
    const upstream = await startNodeChild<{ url: string }>(new URL('./targets/upstream.js', import.meta.url));
    stoppers.push(upstream.child);
    const up = upstream.hello.url;
    for (const name of TARGETS.filter((t) => wanted.includes(t))) {
      const outFile = join(work, `${name}.callgrind`);
      const launcher = ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${outFile}`];
      let target: { url: string; pid: number; stop(): Promise<void> };
      let headers: Record<string, string> = {};
      if (name === 'undici' || name === 'http-proxy-3') {
        const script = name === 'undici' ? 'undici-pass' : 'http-proxy-3';
        const started = await startNodeChild<{ url: string }>(new URL(`./targets/${script}.js`, import.meta.url), [up], { launcher, timeoutMs: START_TIMEOUT_MS });
        target = { url: started.hello.url, pid: started.child.pid, stop: () => started.child.stop() };
      } else {
        const [port, adminPort, idpPort] = await freePorts(3);
        const url = `http://127.0.0.1:${port}`;
        await idp?.close();
        idp = await startTestIdp({ port: idpPort!, clients: [{ ...gatewayClient(url), redirect_uris: [`${url}/.portcullis/callback`] }] });
        if (name === 'gateway-session-redis') redis ??= await startRedis();
        const store = name === 'gateway-session-redis' ? { kind: 'redis' as const, url: redis!.url } : { kind: 'memory' as const };
        const gw = await startGatewayProcess(
          { port: port!, adminPort: adminPort!, upstream: up, issuer: idp.issuer, store, public: name === 'gateway-public' },
          { launcher, readyTimeoutMs: START_TIMEOUT_MS },
        );
        target = gw;
        if (name !== 'gateway-public') headers = await signIn(gw.url, 'bench');
      }
      stoppers.push(target);
      const url = `${target.url}${options.path}`;
      await checkReachesUpstream(url, headers);
      await sendRequests(url, headers, options.warmupRequests);
      const totals = await countDuring(target.pid, outFile, () => sendRequests(url, headers, options.requests));
      await target.stop();
      const row: Row = {
        name,
        label: LABELS[name],
        instructionsPerRequest: totals.total / options.requests,
        compilingPerRequest: totals.compiling / options.requests,
        steadyPerRequest: (totals.total - totals.compiling) / options.requests,
      };
      rows.push(row);
      console.log(`  ${name}: ${Math.round(row.steadyPerRequest)} instructions/request (+${Math.round(row.compilingPerRequest)} JIT compiling)`);
    }
  } finally {
    await stopAll(stoppers);
    await idp?.close();
    await redis?.close();
    rmSync(work, { recursive: true, force: true });
  }
  report(options, rows);
}

function report(options: BenchOptions, rows: Row[]): void {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const width = Math.max(...rows.map((r) => r.label.length), 10) + 2;
  console.log(`\n${'target'.padEnd(width)}${'instr/req'.padStart(12)}${'JIT compiling'.padStart(15)}`);
  for (const r of rows) console.log(`${r.label.padEnd(width)}${Math.round(r.steadyPerRequest).toLocaleString('en-US').padStart(12)}${Math.round(r.compilingPerRequest).toLocaleString('en-US').padStart(15)}`);
  const ratios = rows
    .filter((r) => r.name.startsWith('gateway-'))
    .flatMap((r) => BASELINES.filter((b) => byName.has(b)).map((b) => ({ target: r.name, vs: b, instructions: r.steadyPerRequest / byName.get(b)!.steadyPerRequest })));
  console.log('');
  for (const r of rows.filter((row) => row.name.startsWith('gateway-'))) {
    const mine = ratios.filter((x) => x.target === r.name).map((x) => `${x.instructions.toFixed(2)}× ${x.vs}'s`);
    if (mine.length) console.log(`${r.name}: ${mine.join(', ')} instructions per request`);
  }
  const result = {
    kind: 'instructions',
    date: new Date().toISOString(),
    machine: machine(),
    options: { requests: options.requests, warmupRequests: options.warmupRequests, concurrency: CONCURRENCY, path: options.path },
    targets: rows,
    ratios,
  };
  mkdirSync(options.out, { recursive: true });
  const file = join(options.out, `instructions-node${process.versions.node.split('.')[0]}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

