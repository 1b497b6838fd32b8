import { spawn, spawnSync } from 'node:child_process';
import t from 'tap';
import { freePorts } from '../support/ports.js';
import { CONTRACT_METRIC_NAMES as CONTRACT_NAMES } from '../support/contract-metrics.js';
import { startStack } from '../support/stack.js';

/**
 * A real scrape, after real traffic through a real gateway, is what Prometheus sees: it must pass
 * `promtool check metrics` (Debian package `prometheus`), carry every name CONTRACT.md promises,
 * and label requests by route id, never by path.
 */

const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined;

function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

/** `name{labels} value` lines for one metric name (exact name, so _bucket/_sum stay apart). */
function samples(text: string, name: string): { labels: string; value: number }[] {
  const out: { labels: string; value: number }[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (match && match[1] === name) out.push({ labels: match[2] ?? '', value: Number(match[3]) });
  }
  return out;
}

t.test('a scrape after real traffic passes promtool and carries the contract names', async (t) => {
  const [deadPort] = await freePorts(1);
  const startedAt = Date.now();
  const stack = await startStack({
    routes: ({ url, upstream }) => [
      { from: url, to: upstream.url, policy: 'everyone' },
      { from: `${url}/staff`, to: upstream.url, policy: 'staff-no-admin' },
      { from: `${url}/down`, to: `http://127.0.0.1:${deadPort}`, policy: 'everyone' },
    ],
  });
  t.teardown(() => stack.close());
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'alice');
  const cookie = `_portcullis=${browser.cookie('_portcullis')}`;
  const get = (path: string) => fetch(`${stack.url}${path}`, { headers: { cookie, accept: 'application/json' }, redirect: 'manual' });

  t.equal((await get('/hello/world?secret=1')).status, 200, 'ok');
  t.equal((await get('/staff/admin/panel')).status, 403, 'denied by policy');
  t.equal((await get('/missing/page?__status=404')).status, 404, 'not found upstream');
  t.equal((await get('/down/anything')).status, 502, 'upstream down');
  t.equal((await fetch(`${stack.url}/private`, { headers: { accept: 'application/json' } })).status, 401, 'no session');

  const res = await fetch(`${stack.adminUrl}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain/);
  const text = await res.text();

  await t.test(
    'promtool check metrics',
    { skip: hasPromtool ? false : 'promtool is not on PATH (Debian package "prometheus"; .ci/run installs it)' },
    async (t) => {
      const check = await promtoolCheck(text);
      t.equal(check.code, 0, `promtool: ${check.output.trim() || 'clean'}`);
    },
  );

  const typed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  for (const name of CONTRACT_NAMES) t.ok(typed.has(name), `${name} is exported`);
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    t.notOk(typed.has(name), `${name} (a gauge named like a counter) is not exported`);
  }

  const build = samples(text, 'portcullis_build_info');
  t.equal(build.length, 1);
  t.match(build[0]!.labels, /version="\d+\.\d+\.\d+[^"]*"/);
  t.ok(build[0]!.labels.includes(`node="${process.version}"`), 'node label is the running Node.js');
  t.equal(build[0]!.value, 1);
  t.equal(samples(text, 'portcullis_config_last_reload_success')[0]?.value, 1, 'config loaded at start');
  const loadedAt = samples(text, 'portcullis_config_last_reload_timestamp_seconds')[0]?.value ?? 0;
  t.ok(loadedAt >= Math.floor(startedAt / 1000) && loadedAt <= Date.now() / 1000, 'reload timestamp is the start time');
  t.equal(samples(text, 'portcullis_logins_total').find((s) => s.labels.includes('"success"'))?.value, 1, 'one login');

  const requests = samples(text, 'portcullis_http_requests_total');
  const codes = new Set(requests.map((s) => /code="(\d+)"/.exec(s.labels)?.[1]));
  for (const code of ['200', '403', '404', '502', '401']) t.ok(codes.has(code), `requests counted with code ${code}`);
  const routeIds = new Set([stack.url, `${stack.url}/staff`, `${stack.url}/down`, 'portal', 'none', 'well-known']);
  const routes = new Set(requests.map((s) => /route="([^"]*)"/.exec(s.labels)?.[1]));
  for (const route of routes) t.ok(routeIds.has(route!), `route label "${route}" is a route id, not a path`);
  t.notMatch(text, /hello\/world|panel|secret=1|__status/, 'no request path or query in any label');
  t.ok(
    samples(text, 'portcullis_upstream_errors_total').some((s) => s.labels.includes('kind="connect"') && s.value >= 1),
    'upstream down counted as a connect error',
  );

  const buckets = samples(text, 'portcullis_http_request_duration_seconds_bucket').map((s) => /le="([^"]+)"/.exec(s.labels)?.[1]);
  t.ok(buckets.includes('0.0005'), 'a sub-millisecond bucket');
  t.ok(buckets.includes('30'), 'a 30 s bucket');
});
