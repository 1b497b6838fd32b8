import { Worker } from 'node:worker_threads';
import { startBaselineProxy } from './baseline-proxy.js';
import { startForwarderProxy } from './forwarder-proxy.js';
import { startGatewayTarget } from './gateway-target.js';
import type { LoadOptions, LoadResult } from './load-worker.js';
import type { SessionTarget } from './session-target.js';

/**
 * npm run bench: the gateway against a plain node:http + undici proxy, side by side in one
 * process tree, each in front of the same upstream and driven by the same closed-loop client
 * (upstream and client each in a worker thread). "forwarder" is src/proxy alone (headers +
 * forward), which separates the cost of proxying from the rest of the gateway. "gateway" is a
 * public route; "gateway-session" is the path signed-in users take (session cookie → store →
 * policy → identity assertion → header hygiene → forward), after one real sign-in at the demo IdP.
 * Prints requests/s, p50 and p99 and the gateway/baseline ratios; never passes or fails on
 * absolute numbers (they depend on the machine).
 *
 * Targets are measured in interleaved rounds (A B C, A B C, …) so that a change in machine load
 * hits all of them alike; each figure is the median over rounds.
 *
 * Environment: BENCH_SECONDS per round (default 3), BENCH_ROUNDS (3), BENCH_WARMUP (1),
 * BENCH_CONCURRENCY (32), BENCH_PATH (/bench).
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const warmupSeconds = Number(process.env.BENCH_WARMUP ?? 1);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const path = process.env.BENCH_PATH ?? '/bench';

function startUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const worker = new Worker(new URL('./upstream-worker.js', import.meta.url));
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', ({ port }: { port: number }) =>
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            worker.once('exit', () => done());
            worker.postMessage('close');
          }),
      }),
    );
  });
}

function load(url: string, headers?: Record<string, string>): Promise<LoadResult> {
  const options: LoadOptions = { url, seconds, warmupSeconds, concurrency, ...(headers ? { headers } : {}) };
  const worker = new Worker(new URL('./load-worker.js', import.meta.url), { workerData: options });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (message: LoadResult | { error: string }) => {
      void worker.terminate();
      if ('error' in message) reject(new Error(message.error));
      else resolve(message);
    });
  });
}

/** wide enough for the longest target name, "gateway-session" */
const NAME_WIDTH = 16;

function row(name: string, result: LoadResult): string {
  const rps = (result.requests / result.seconds).toFixed(0);
  return `${name.padEnd(NAME_WIDTH)} ${rps.padStart(9)} ${result.p50.toFixed(2).padStart(9)} ${result.p99.toFixed(2).padStart(9)} ${String(result.errors).padStart(7)}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** One figure per target: the median round's throughput and latencies, errors summed. */
function combine(list: LoadResult[]): LoadResult {
  return {
    requests: median(list.map((r) => r.requests)),
    seconds: list[0]?.seconds ?? seconds,
    errors: list.reduce((sum, r) => sum + r.errors, 0),
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
  };
}

function ratios(name: string, result: LoadResult, base: LoadResult): string {
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  return (
    `${name}/baseline: throughput ${ratio(result.requests, base.requests)}x, ` +
    `p50 ${ratio(result.p50, base.p50)}x, p99 ${ratio(result.p99, base.p99)}x`
  );
}

/**
 * Loaded dynamically (it imports the gateway, the demo IdP and the test browser) so that a
 * missing or broken part becomes an error row instead of stopping the whole benchmark.
 */
async function startSession(upstream: string): Promise<SessionTarget> {
  try {
    const { startSessionTarget } = await import('./session-target.js');
    return await startSessionTarget(upstream);
  } catch (error) {
    return { error: `does not load (${(error as Error).message})`, close: async () => undefined };
  }
}

async function main(): Promise<void> {
  const upstream = await startUpstream();
  const baseline = await startBaselineProxy(upstream.url);
  const forwarder = await startForwarderProxy(upstream.url);
  const gateway = await startGatewayTarget(upstream.url);
  const session = await startSession(upstream.url);
  console.log(
    `portcullis bench: GET ${path}, ${concurrency} concurrent clients, ${rounds} rounds of ` +
      `${warmupSeconds}s warm-up + ${seconds}s per target`,
  );
  const targets: Array<[name: string, url: string, headers?: Record<string, string>]> = [
    ['upstream', upstream.url],
    ['baseline', baseline.url],
    ['forwarder', forwarder.url],
  ];
  if ('url' in gateway) targets.push(['gateway', gateway.url]);
  if ('url' in session) targets.push(['gateway-session', session.url, session.headers]);
  try {
    const results = new Map<string, LoadResult[]>(targets.map(([name]) => [name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const [name, url, headers] of targets) results.get(name)!.push(await load(`${url}${path}`, headers));
      process.stdout.write(`round ${round}/${rounds} done\n`);
    }
    const summary = new Map([...results].map(([name, list]) => [name, combine(list)]));

    console.log(`\n${'target'.padEnd(NAME_WIDTH)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'errors'.padStart(7)}`);
    for (const [name, result] of summary) console.log(row(name, result));
    if ('error' in session) console.log(`${'gateway-session'.padEnd(NAME_WIDTH)} error: ${session.error}`);
    console.log('');
    const base = summary.get('baseline')!;
    console.log(ratios('forwarder', summary.get('forwarder')!, base));
    const gw = summary.get('gateway');
    if (gw) {
      console.log(ratios('gateway', gw, base));
      if (gw.errors > 0) console.log(`note: the gateway answered ${gw.errors} requests with errors (non-200)`);
    } else if ('skipped' in gateway) {
      console.log(`gateway skipped: ${gateway.skipped}`);
    }
    const signedIn = summary.get('gateway-session');
    if (signedIn) {
      console.log(ratios('gateway-session', signedIn, base));
      if (signedIn.errors > 0) {
        console.log(`note: the signed-in gateway answered ${signedIn.errors} requests with errors (non-200)`);
      }
    }
  } finally {
    await session.close();
    if ('close' in gateway) await gateway.close();
    await forwarder.close();
    await baseline.close();
    await upstream.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
