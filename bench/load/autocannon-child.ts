import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './types.js';

/**
 * autocannon in its own process (never in the process of a target or of the harness):
 * argv[2] is a LoadSpec as JSON; prints one LoadResult line. SIGINT ends a long run early.
 */
const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const started = performance.now();
const instance = autocannon(
  { url: spec.url, connections: spec.connections, duration: spec.seconds, headers: spec.headers ?? {} },
  (error, result) => {
    if (error) {
      process.stderr.write(`${String(error)}\n`);
      process.exit(2);
    }
    const seconds = (performance.now() - started) / 1000;
    const out: LoadResult = {
      rps: result.requests.total / seconds,
      p50: result.latency.p50,
      p99: result.latency.p99,
      requests: result.requests.total,
      errors: result.non2xx + result.errors + result.timeouts,
      seconds,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  },
);
process.once('SIGINT', () => instance.stop());
