import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import t from 'tap';
import { CONTRACT_METRIC_NAMES } from '../../support/contract-metrics.js';
import { parse } from 'yaml';

/**
 * The Helm chart as an operator meets it: values.yaml and every example validate against
 * values.schema.json (what `helm install` checks), unsafe values are refused, the README lists
 * every value. `helm lint` and `helm template` run only where helm is on PATH (not in CI here).
 */
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const chart = `${root}charts/portcullis/`;
type Values = Record<string, unknown>;

const schema = JSON.parse(readFileSync(`${chart}values.schema.json`, 'utf8')) as object;
const validate = new Ajv({ allErrors: true }).compile(schema);
const defaults = parse(readFileSync(`${chart}values.yaml`, 'utf8')) as Values;
const examples = readdirSync(`${chart}examples`).filter((f) => f.endsWith('.yaml')).sort();

const isMap = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's coalescing of user values over the chart's: maps merge, lists and scalars replace, null removes. */
function coalesce(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete out[key];
    else if (isMap(value) && isMap(out[key])) out[key] = coalesce(out[key] as Values, value);
    else out[key] = value;
  }
  return out;
}

function errors(values: Values): string {
  return validate(values) ? '' : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}

t.test('values.yaml validates against values.schema.json', async (t) => {
  t.equal(errors(defaults), '');
  t.equal(defaults.replicaCount, 2, 'two replicas by default');
});

t.test('every example values file validates over the defaults', async (t) => {
  t.ok(examples.length >= 3, `examples: ${examples.join(', ')}`);
  for (const file of examples) {
    const values = coalesce(defaults, parse(readFileSync(`${chart}examples/${file}`, 'utf8')) as Values);
    t.equal(errors(values), '', file);
  }
});

const withSession = (store: string, extra: Values = {}) =>
  coalesce(defaults, { config: { session: { store } }, ...extra });

t.test('several replicas on the memory store are refused', async (t) => {
  t.match(errors(withSession('memory', { replicaCount: 2 })), /\/config\/session\/store must be equal to constant/);
  t.match(errors(withSession('memory', { replicaCount: 1, autoscaling: { enabled: true } })), /store/);
  t.equal(errors(withSession('memory', { replicaCount: 1 })), '', 'one replica may keep sessions in memory');
  t.equal(errors(withSession('redis', { replicaCount: 5 })), '');
});

t.test('both reload modes are accepted', async (t) => {
  t.equal(errors(coalesce(defaults, { reload: { mode: 'restart' } })), '');
  t.equal(errors(coalesce(defaults, { reload: { mode: 'hot' } })), '');
});

t.test('unsafe or unknown values are refused', async (t) => {
  const cases: Array<[string, Values]> = [
    ['a PDB that blocks drains', { podDisruptionBudget: { maxUnavailable: 0 } }],
    ['a writable root filesystem', { securityContext: { readOnlyRootFilesystem: false } }],
    ['running as root', { podSecurityContext: { runAsNonRoot: false } }],
    ['an unknown reload mode', { reload: { mode: 'sometimes' } }],
    ['a short cookie secret', { secrets: { cookieSecret: 'too-short' } }],
    ['a misspelt top-level key', { replicas: 3 }],
    ['an unknown config key', { config: { server: { listen_port: 80 } } }],
    ['an unknown Redis mode', { redis: { mode: 'memcached' } }],
    ['no routes', { config: { routes: [] } }],
  ];
  for (const [name, over] of cases) t.not(errors(coalesce(defaults, over)), '', name);
});

/** Every leaf path of values.yaml (lists and empty maps are leaves). */
function leafPaths(values: Values, prefix = ''): string[] {
  return Object.entries(values).flatMap(([key, value]) =>
    isMap(value) && Object.keys(value).length && prefix + key !== 'policies' && prefix + key !== 'resources'
      ? leafPaths(value, `${prefix}${key}.`)
      : [`${prefix}${key}`],
  );
}

t.test('the chart README lists every value', async (t) => {
  const readme = readFileSync(`${chart}README.md`, 'utf8');
  const missing = leafPaths(defaults).filter((path) => !readme.includes(`\`${path}\``));
  t.same(missing, [], 'every values.yaml key appears in README.md as `path`');
});

const CONTRACT_METRICS = new Set(CONTRACT_METRIC_NAMES.filter((name) => name.startsWith('portcullis_')));
const metricNames = (text: string) => new Set([...text.matchAll(/portcullis_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));

t.test('the Grafana dashboard: one JSON in deploy/ and in the chart, contract metric names only', async (t) => {
  const deployed = readFileSync(`${root}deploy/grafana/portcullis-dashboard.json`, 'utf8');
  t.equal(readFileSync(`${chart}dashboards/portcullis.json`, 'utf8'), deployed, 'the chart ships the same dashboard');
  const dashboard = JSON.parse(deployed) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  const used = metricNames(dashboard.panels.flatMap((p) => p.targets.map((q) => q.expr)).join('\n'));
  for (const name of used) t.ok(CONTRACT_METRICS.has(name), `${name} is a contract metric`);
  for (const name of CONTRACT_METRICS) t.ok(used.has(name), `a panel shows ${name}`);
  const template = readFileSync(`${chart}templates/dashboard-configmap.yaml`, 'utf8');
  t.match(template, /\.Files\.Get "dashboards\/portcullis\.json"/);
  t.same((defaults.grafanaDashboard as Values).labels, { grafana_dashboard: '1' }, "labelled for Grafana's sidecar");
});

t.test('the alert rules use contract metric names only', async (t) => {
  const rules = readFileSync(`${chart}templates/prometheusrule.yaml`, 'utf8');
  const used = metricNames(rules);
  for (const name of used) t.ok(CONTRACT_METRICS.has(name), `${name} is a contract metric`);
  for (const name of ['portcullis_store_up', 'portcullis_token_refresh_total', 'portcullis_http_requests_total']) t.ok(used.has(name), `an alert on ${name}`);
});

/**
 * The PrometheusRule template with its few template expressions filled in, as plain rule groups,
 * and every dashboard query as a recording rule: `promtool check rules` parses all the PromQL.
 */
function renderedRules(): string {
  const template = readFileSync(`${chart}templates/prometheusrule.yaml`, 'utf8');
  const spec = template.split('spec:\n')[1]!.split('{{- end }}')[0]!;
  const sel = 'namespace="ns", service="svc"';
  const filled = spec
    .replaceAll('{ {{- $sel -}} }', `{${sel}}`)
    .replaceAll('{ {{- $sel -}},', `{${sel},`)
    .replace('{{ $r.storeDownFor }}', '2m')
    .replace('{{ $r.refreshFailureRatio }}', '0.2')
    .replace('{{ $r.errorRatio }}', '0.05')
    .replace(/\{\{ `(.*?)` \| quote \}\}/g, (_m, text: string) => JSON.stringify(text));
  const indent = /^( *)groups:/m.exec(filled)?.[1]?.length ?? 0;
  return filled
    .split('\n')
    .map((line) => line.slice(indent))
    .join('\n');
}

const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined;
t.test('alert rules and dashboard queries are valid PromQL', { skip: promtool ? false : 'promtool is not on PATH' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-rules-'));
  const alerts = renderedRules();
  t.notMatch(alerts, /\{\{-|\$sel|\$r\./, 'every template expression in the rules was filled in');
  writeFileSync(join(dir, 'alerts.yaml'), alerts);
  const dashboard = JSON.parse(readFileSync(`${root}deploy/grafana/portcullis-dashboard.json`, 'utf8')) as {
    panels: Array<{ targets: Array<{ expr: string }> }>;
  };
  const queries = dashboard.panels.flatMap((p) => p.targets.map((q) => q.expr));
  const rules = queries.map((expr, i) => ({
    record: `dashboard:query_${i}`,
    expr: expr.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', '.*').replaceAll('$job', '.*'),
  }));
  writeFileSync(join(dir, 'dashboard.json'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
  for (const file of ['alerts.yaml', 'dashboard.json']) {
    const check = spawnSync('promtool', ['check', 'rules', join(dir, file)], { encoding: 'utf8' });
    t.equal(check.status, 0, `promtool check rules ${file}: ${check.stdout}${check.stderr}`);
  }
});

const helm = spawnSync('helm', ['version'], { stdio: 'ignore' }).error === undefined;
t.test('helm lint and helm template', { skip: helm ? false : 'helm is not on PATH (CI here has no helm)' }, async (t) => {
  const run = (...args: string[]) => spawnSync('helm', args, { encoding: 'utf8' });
  const lint = run('lint', chart, '--strict');
  t.equal(lint.status, 0, `helm lint: ${lint.stdout}${lint.stderr}`);
  for (const file of examples) {
    const out = run('template', 'gw', chart, '-f', `${chart}examples/${file}`);
    t.equal(out.status, 0, `helm template -f ${file}: ${out.stderr}`);
  }
  const refused = run('template', 'gw', chart, '--set', 'config.session.store=memory', '--set', 'replicaCount=2');
  t.not(refused.status, 0, 'two replicas on the memory store do not render');
  const rolled = run('template', 'gw', chart, '--show-only', 'templates/deployment.yaml');
  t.match(rolled.stdout, /checksum\/config:/, 'reload.mode restart: a config change rolls the pods');
  const hot = run('template', 'gw', chart, '--show-only', 'templates/deployment.yaml', '--set', 'reload.mode=hot');
  t.notMatch(hot.stdout, /checksum\/config:/, 'reload.mode hot: the pods stay and reload in place');
});
