import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'undici';

export interface LoadOptions {
  url: string;
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
  /** sent with every request (e.g. a session cookie) */
  headers?: Record<string, string>;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  /** latencies in milliseconds */
  p50: number;
  p99: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * A closed-loop load generator in its own thread: `concurrency` workers each send a request,
 * read the whole answer and send the next, for warmup + measured seconds. Only the measured
 * window counts.
 */
async function run(options: LoadOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  const pool = new Pool(target.origin, { connections: options.concurrency, pipelining: 1 });
  const path = `${target.pathname}${target.search}`;
  const headers = options.headers ?? {};
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const measureFrom = start + options.warmupSeconds * 1000;
  const end = measureFrom + options.seconds * 1000;

  async function worker(): Promise<void> {
    for (;;) {
      const sent = performance.now();
      if (sent >= end) return;
      try {
        const { statusCode, body } = await pool.request({ path, method: 'GET', headers });
        await body.dump({ limit: Number.MAX_SAFE_INTEGER });
        if (statusCode !== 200) throw new Error(`status ${statusCode}`);
        const done = performance.now();
        if (sent >= measureFrom && done <= end) latencies.push(done - sent);
      } catch {
        if (sent >= measureFrom) errors++;
      }
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, worker));
  await pool.close();
  const sorted = Float64Array.from(latencies).sort();
  return { requests: latencies.length, errors, seconds: options.seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

run(workerData as LoadOptions).then(
  (result) => parentPort?.postMessage(result),
  (error: unknown) => parentPort?.postMessage({ error: String(error) }),
);
