import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseCallgrindAnnotate } from '../../../bench/instructions.js';
import { parseOptions } from '../../../bench/lib/options.js';
import { parseWrkOutput } from '../../../bench/load/wrk.js';
import { combineRounds, median, percentile } from '../../../bench/report/stats.js';
import { barChart } from '../../../bench/report/svg.js';
import { gatewayCommand, IMAGE_NODE_FLAGS } from '../../../bench/targets/gateway.js';

/** What wrk 4.1.0 (Debian) printed for a server that answered 500. */
const WRK_ERRORS = `Running 1s test @ http://127.0.0.1:18931/bad
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    13.12ms   28.86ms 161.31ms   91.53%
    Req/Sec     1.63k     1.19k    3.56k    66.67%
  Latency Distribution
     50%    1.59ms
     75%    8.68ms
     90%   35.62ms
     99%  147.24ms
  1575 requests in 1.07s, 218.41KB read
  Non-2xx or 3xx responses: 1575
Requests/sec:   1472.48
Transfer/sec:    204.19KB
`;

t.test('parseWrkOutput reads totals, percentiles in any unit and every kind of error', async (t) => {
  t.same(parseWrkOutput(WRK_ERRORS), { rps: 1472.48, p50: 1.59, p99: 147.24, requests: 1575, errors: 1575, seconds: 1.07 });
  const fast = WRK_ERRORS.replace('1.59ms', '412.00us')
    .replace('147.24ms', '1.20s')
    .replace('  Non-2xx or 3xx responses: 1575\n', '  Socket errors: connect 1, read 2, write 3, timeout 4\n');
  const parsed = parseWrkOutput(fast);
  t.equal(parsed.p50, 0.412);
  t.equal(parsed.p99, 1200);
  t.equal(parsed.errors, 10);
  t.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused'), /no totals/);
});

t.test('options: defaults, BENCH_* from the environment, argv wins, bad values fail at once', async (t) => {
  const defaults = parseOptions([], {});
  t.match(defaults, { mode: 'throughput', seconds: 5, rounds: 3, connections: 32, sessions: 100_000, logouts: 1000, path: '/bench' });
  t.match(parseOptions(['scale', '--sessions', '1000000'], { BENCH_SESSIONS: '5', BENCH_LOAD_CONNECTIONS: '4' }), {
    mode: 'scale',
    sessions: 1_000_000,
    loadConnections: 4,
  });
  t.same(parseOptions(['--targets=upstream, nginx'], {}).targets, ['upstream', 'nginx']);
  t.throws(() => parseOptions(['--seconds', 'ten'], {}), /--seconds must be a number/);
  t.throws(() => parseOptions(['--rounds', '0'], {}), /--rounds must be a number ≥ 1/);
  t.throws(() => parseOptions(['--tool', 'ab'], {}), /--tool must be wrk or autocannon/);
  t.throws(() => parseOptions(['--frobnicate', '1'], {}), /unknown argument --frobnicate/);
  t.throws(() => parseOptions(['--seconds'], {}), /--seconds needs a value/);
  t.match(parseOptions(['instructions', '--requests', '2000'], { BENCH_WARMUP_REQUESTS: '100' }), { mode: 'instructions', requests: 2000, warmupRequests: 100 });
  t.match(parseOptions(['instructions'], {}), { requests: 5000, warmupRequests: 40_000 });
  t.throws(() => parseOptions(['instructions', '--requests', '10'], {}), /--requests must be a number ≥ 100/);
});

/** The head and a few lines of what callgrind_annotate 3.19 printed for a gateway run. */
const ANNOTATE = `--------------------------------------------------------------------------------
Profile data file 'gw/callgrind.out.1' (creator: callgrind-3.19.0)
--------------------------------------------------------------------------------
Events recorded:  Ir
--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
1,128,544,102 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                   file:function
--------------------------------------------------------------------------------
55,853,514 ( 4.95%)  ???:Builtins_KeyedLoadIC_Megamorphic [/usr/bin/node]
 5,131,505 ( 0.45%)  ???:v8::internal::compiler::GraphReducer::ReduceTop() [/usr/bin/node]
 4,875,750 ( 0.43%)  ???:v8::internal::maglev::MaglevGraphBuilder::VisitLdar() [/usr/bin/node]
    29,804 ( 0.00%)  ???:0x000000000d120400 [???]
 1,000,000 ( 0.09%)  ./malloc/./malloc/malloc.c:_int_malloc [/usr/lib/x86_64-linux-gnu/libc.so.6]
`;

t.test('parseCallgrindAnnotate: the program total and the JIT compilers\' share of it', async (t) => {
  t.same(parseCallgrindAnnotate(ANNOTATE), { total: 1_128_544_102, compiling: 5_131_505 + 4_875_750 });
  t.throws(() => parseCallgrindAnnotate('callgrind_annotate: no such file'), /no PROGRAM TOTALS/);
});

t.test('stats: medians over rounds, nearest-rank percentiles', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
  const samples = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(samples, 50), 50);
  t.equal(percentile(samples, 99), 99);
  t.equal(percentile([7], 99), 7);
  const rounds = [
    { rps: 100, p50: 1, p99: 5, requests: 500, errors: 0, seconds: 5 },
    { rps: 300, p50: 3, p99: 9, requests: 1500, errors: 2, seconds: 5 },
    { rps: 200, p50: 2, p99: 7, requests: 1000, errors: 1, seconds: 5 },
  ];
  t.same(combineRounds(rounds), { rps: 200, p50: 2, p99: 7, requests: 3000, errors: 3 });
});

t.test('barChart: one bar per target, widths in proportion, text escaped', async (t) => {
  const svg = barChart('req/s <all>', 'wrk & co', [
    { label: 'nginx', value: 40_000, note: '40.0k req/s', group: 'baseline' },
    { label: 'Portcullis "signed in"', value: 10_000, note: '10.0k req/s', group: 'gateway' },
  ]);
  t.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  t.ok(svg.trimEnd().endsWith('</svg>'));
  const widths = [...svg.matchAll(/<rect x="\d+" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
  t.equal(widths.length, 2);
  t.equal(widths[0]! / widths[1]!, 4);
  t.match(svg, 'req/s &#60;all&#62;');
  t.match(svg, 'wrk &#38; co');
  t.match(svg, 'Portcullis &#34;signed in&#34;');
  t.notMatch(svg, '<all>');
});

t.test('the bench starts node as the container image and npm start do', async (t) => {
  // the runtime flags change the figures (docs/operations.md, "Runtime flags"): measured and shipped must agree
  const root = new URL('../../../../', import.meta.url);
  const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  t.ok(entrypoint, 'the Dockerfile has an exec-form ENTRYPOINT');
  t.same(JSON.parse(entrypoint![1]!), ['node', ...IMAGE_NODE_FLAGS, 'dist/src/main.js']);
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
  t.equal(pkg.scripts.start, ['node', ...IMAGE_NODE_FLAGS, 'dist/src/main.js'].join(' '));
  t.same(
    gatewayCommand('/tmp/gw.yaml', ['valgrind'], { BENCH_GATEWAY_NODE_ARGS: '--cpu-prof', BENCH_GATEWAY_MAIN: '/build/main.js' }),
    ['valgrind', process.execPath, ...IMAGE_NODE_FLAGS, '--cpu-prof', '/build/main.js', 'serve', '--config', '/tmp/gw.yaml'],
    'the bench gateway gets the image flags, then any asked for',
  );
});
