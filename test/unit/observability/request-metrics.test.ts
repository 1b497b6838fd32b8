import fc from 'fast-check';
import { Writable } from 'node:stream';
import t from 'tap';
import { createAccessLog, createLogger } from '../../../src/observability/logger.js';
import { createMetrics, DURATION_BUCKETS } from '../../../src/observability/metrics.js';

function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

t.test('requests are counted per route, method and code, and durations land in cumulative buckets', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.requests.record('app', 'GET', 200, 0.0007);
  metrics.requests.record('app', 'GET', 200, 0.003);
  metrics.requests.record('app', 'POST', 502, 45);
  metrics.requests.record('none', 'unknown', 431);
  const text = await metrics.registry.metrics();
  t.equal(sample(text, 'portcullis_http_requests_total{route="app",method="GET",code="200"}'), 2);
  t.equal(sample(text, 'portcullis_http_requests_total{route="app",method="POST",code="502"}'), 1);
  t.equal(sample(text, 'portcullis_http_requests_total{route="none",method="unknown",code="431"}'), 1);
  const bucket = (le: string | number) => sample(text, `portcullis_http_request_duration_seconds_bucket{route="app",le="${le}"}`);
  t.equal(bucket(0.0005), 0);
  t.equal(bucket(0.001), 1);
  t.equal(bucket(0.005), 2);
  t.equal(bucket(30), 2, 'a time beyond the last bound is only in +Inf');
  t.equal(bucket('+Inf'), 3);
  t.equal(sample(text, 'portcullis_http_request_duration_seconds_count{route="app"}'), 3);
  t.ok(Math.abs(sample(text, 'portcullis_http_request_duration_seconds_sum{route="app"}')! - 45.0037) < 1e-9);
  t.notOk(text.includes('duration_seconds_count{route="none"}'), 'a request refused before parsing has no duration');
  t.match(text, /# TYPE portcullis_http_requests_total counter/);
  t.match(text, /# TYPE portcullis_http_request_duration_seconds histogram/);
});

t.test('bucket counts agree with counting each bound directly, for any durations', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.double({ min: 0, max: 60, noNaN: true }), { maxLength: 40 }), async (durations) => {
      const metrics = createMetrics({ defaultMetrics: false });
      for (const seconds of durations) metrics.requests.record('r', 'GET', 200, seconds);
      const text = await metrics.registry.metrics();
      for (const le of DURATION_BUCKETS) {
        const expected = durations.filter((d) => d <= le).length;
        const got = sample(text, `portcullis_http_request_duration_seconds_bucket{route="r",le="${le}"}`) ?? 0;
        if (durations.length > 0 && got !== expected) return false;
      }
      return true;
    }),
  );
  t.pass();
});

t.test('the access line is one JSON object per request in the logger format, escaped', async (t) => {
  let written = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ level: 'info', destination: sink });
  const access = createAccessLog(logger);
  t.equal(access.enabled(), true);
  access.write({ reqId: 'r1', route: 'a"b', method: 'GET', path: '/é\n', status: 200, ms: 3, upstreamMs: 2, user: 'alice' });
  access.write({ reqId: 'r2', route: 'none', method: 'GET', path: '/', status: 404, ms: 0, upstreamMs: undefined, user: undefined });
  const lines = written.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  t.equal(lines.length, 2);
  t.match(lines[0], { level: 30, pid: process.pid, name: 'portcullis', reqId: 'r1', route: 'a"b', method: 'GET', path: '/é\n', status: 200, ms: 3, upstreamMs: 2, user: 'alice', msg: 'request' });
  t.equal(typeof lines[0]!['time'], 'string');
  t.notOk('user' in lines[1]! || 'upstreamMs' in lines[1]!, 'absent fields are left out, as pino does');
  t.equal(createAccessLog(createLogger({ level: 'warn', destination: sink })).enabled(), false, 'above info there is no access log');
});
