import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { stringify } from 'yaml';
import { parseConfig, type Config } from '../../src/config/index.js';
import { parseYaml } from '../../src/config/yaml-source.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import { compilePolicies } from '../../src/policy/index.js';
import { compileRoutes } from '../../src/routes/index.js';
import { parseRedisUrl } from '../../src/config/redis-url.js';
import { BASE_DIR, memoryFs } from '../unit/config/helpers.js';
import { checkProperty, fuzzSeed, runs, watchProcess } from './harness.js';

/**
 * Config and policy YAML through the loader `check-config` and `serve` use (parseYaml, then
 * parseConfig with policies from policies_dir). Documents start valid and are mutated — keys
 * dropped, renamed, retyped, unknown keys added, values replaced by hostile ones — and sometimes
 * the YAML text itself is damaged. Every document ends either valid (and then compiles into
 * routes, policies and a Redis target without throwing) or in a ConfigError whose every issue
 * names a key path (file-level problems: the file and a line), and no message repeats a secret.
 */
const seed = fuzzSeed();
t.comment(`seed=${seed} (replay: FUZZ_SEED=${seed})`);
watchProcess(t);

const COOKIE_SECRET = 'fuzz-cookie-secret-value-0123456789-abcdef';
const CLIENT_SECRET = 'fuzz-client-secret-value-9876';
const SECRETS = [COOKIE_SECRET, CLIENT_SECRET];
const ENV = { GOOD: 'value-from-env', PORT: '8080', EMPTY: '' };

function baseConfig(): Record<string, unknown> {
  return {
    server: { listen: '127.0.0.1:8080', admin_listen: '127.0.0.1:9090', public_url: 'https://gw.example.com', trust_forwarded_headers: false },
    idp: { issuer: 'https://idp.example.com', client_id: 'portcullis', client_secret: CLIENT_SECRET, scopes: ['openid', 'email'] },
    cookie: { name: '_portcullis', secret: COOKIE_SECRET, domain: '.example.com', secure: 'auto', same_site: 'lax' },
    session: { store: 'redis', redis: { url: 'redis://127.0.0.1:6379/0', key_prefix: 'p:' }, lifetime: '14h', idle_timeout: '2h' },
    routes: [
      { from: 'https://app.example.com', to: 'http://10.0.0.1:3000', policy: 'eng' },
      { from: 'https://*.apps.example.com/api', to: 'http://10.0.0.2:3000', policy: 'eng', strip_prefix: true, timeout: '5s' },
      { from: 'https://gw.example.com/public', to: 'http://10.0.0.3', public: true },
    ],
    policies_dir: 'policies',
    signing: { algorithm: 'ES256', rotate_every: '24h', publish_ahead: '2m', assertion_ttl: '5m' },
    log: { level: 'info' },
  };
}

function basePolicy(): Record<string, unknown> {
  return {
    name: 'eng',
    description: 'engineering',
    allow: [{ email_domain: 'example.com' }, { groups: ['eng', 'ops'] }, { claim: { name: 'dept', values: ['r&d', 7, true] } }],
    deny: [{ path_prefix: ['/admin', '/docs/secret'], not: { groups: 'admins' } }, { and: [{ method: ['DELETE'] }, { or: [{ user: 'x' }, { email: 'a@b.c' }] }] }],
  };
}

/** Values that have broken config loaders: wrong types, hostile strings, references, huge numbers. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null, true, false, 0, -1, 1.5, 1e309, -0, '', ' ', '0s', '-5m', '1e9h', '99999999999999999999h', '14', 'forever',
    '${env:GOOD}', '${env:MISSING}', '${env:', '${env:bad-name}', '${env:EMPTY}', '$${env:GOOD}',
    'http://', 'https://', 'https://a b', 'ftp://x', 'http://[::1', 'http://user:pw@host', 'https://*.x', 'https://*', 'https://a.*.b',
    'https://h/a/../b', 'https://h/%2e%2e/', 'https://h/%2F', 'https://h?x', 'https://h#y', 'https://h:0', 'https://h:99999', 'HTTPS://H/',
    'redis://', 'redis://:', 'redis://h:0', 'redis://h/99', 'redis+sentinel://h:1', 'redis+cluster://h:1/2', 'redis://%zz@h', 'redis://h:1,h:2',
    '0.0.0.0:0', ':8080', '[::]:9090', 'host', '*', '/', '/admin', 'admin', '//x', '/a\\b', '/%00', '__proto__', 'constructor',
    'ES256', 'none', 'lax', 'strict', 'none', 'auto', 'silent', 'x'.repeat(5000), 'é', '\u0000', '\ud800', '\n', '- a',
  ),
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 20 }),
);

const keyName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('unknown', 'Server', 'listen ', 'secret_file', 'client_secret_file', 'encryption_key_file', '__proto__', 'constructor', 'prototype', 'toString', 'from', 'policy', 'and', 'not', ''),
  fc.string({ maxLength: 10 }),
);

type Path = (string | number)[];

function allPaths(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...allPaths(item, [...prefix, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...allPaths(v, [...prefix, k]));
  return out;
}

function parentOf(root: unknown, path: Path): any {
  let node: any = root;
  for (const segment of path.slice(0, -1)) node = node?.[segment];
  return node;
}

function setOwn(target: any, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const mutation = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('delete', 'replace', 'replace', 'addKey', 'renameKey', 'wrapInList', 'unwrapList', 'duplicateItem'),
  value: hostileValue,
  key: keyName,
});

type MutationStep = typeof mutation extends fc.Arbitrary<infer R> ? R : never;

/**
 * Applies mutations to a deep copy; paths are picked among the nodes that exist at that moment.
 * Inserted values are copies too: fast-check hands the same value objects to later runs while it
 * shrinks, and a value edited in place by one run (or put inside itself) would become a cycle.
 */
function mutate(doc: unknown, mutations: readonly MutationStep[]): unknown {
  let root: unknown = structuredClone(doc);
  for (const step of mutations) {
    const m = { ...step, value: structuredClone(step.value) };
    const paths = allPaths(root);
    const path = paths[m.at % paths.length]!;
    if (path.length === 0) {
      if (m.op === 'replace') root = m.value;
      else if (m.op === 'wrapInList') root = [root];
      continue;
    }
    const parent = parentOf(root, path);
    const last = path[path.length - 1]!;
    if (parent === null || typeof parent !== 'object') continue;
    switch (m.op) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      case 'replace':
        setOwn(parent, last, m.value);
        break;
      case 'addKey': {
        const target = parent[last];
        if (target !== null && typeof target === 'object' && !Array.isArray(target)) setOwn(target, m.key, m.value);
        break;
      }
      case 'renameKey':
        if (!Array.isArray(parent)) {
          const value = parent[last];
          delete parent[last];
          setOwn(parent, m.key, value);
        }
        break;
      case 'wrapInList':
        setOwn(parent, last, [parent[last]]);
        break;
      case 'unwrapList':
        if (Array.isArray(parent[last])) setOwn(parent, last, parent[last][0]);
        break;
      case 'duplicateItem':
        if (Array.isArray(parent)) parent.push(structuredClone(parent[Number(last)]));
        break;
    }
  }
  return root;
}

/** Damage to the YAML text itself: a character inserted, a range cut, a line repeated. */
const textDamage = fc.option(
  fc.record({
    at: fc.nat(),
    how: fc.constantFrom('insert', 'cut', 'repeatLine', 'tabIndent'),
    text: fc.oneof(fc.constantFrom(':', '- ', '"', "'", '{', '[', '&a ', '*a', '!!binary ', '? ', '\t', '\n', '#', '%YAML 1.2\n---\n', '<<: *a\n', '---\n'), fc.string({ maxLength: 4 })),
    length: fc.nat({ max: 20 }),
  }),
  { nil: undefined, freq: 3 },
);

type TextDamage = typeof textDamage extends fc.Arbitrary<infer R> ? NonNullable<R> : never;

function damage(text: string, d: TextDamage | undefined): string {
  if (!d || text.length === 0) return text;
  const at = d.at % text.length;
  if (d.how === 'insert') return text.slice(0, at) + d.text + text.slice(at);
  if (d.how === 'cut') return text.slice(0, at) + text.slice(at + d.length);
  const lines = text.split('\n');
  const line = at % lines.length;
  if (d.how === 'repeatLine') lines.splice(line, 0, lines[line]!);
  else lines[line] = lines[line]!.replace(/^ {2}/, '\t');
  return lines.join('\n');
}

function toYaml(doc: unknown): string {
  try {
    return stringify(doc, { aliasDuplicateObjects: false });
  } catch {
    return String(doc);
  }
}

/** File-level problems have no key to name; they name the file's line or say what is wrong with it. */
const FILE_LEVEL = /^(YAML syntax error|the file is empty|must be a mapping|is required)/;

function checkIssues(issues: readonly ConfigIssue[], where: string, rootIsMapping: boolean): void {
  if (issues.length === 0) throw new Error(`${where}: a ConfigError without issues`);
  for (const issue of issues) {
    if (typeof issue.message !== 'string' || issue.message.trim() === '') throw new Error(`${where}: an issue without a message at "${issue.path}"`);
    const rootLevel = issue.path === '' || /\.ya?ml$/.test(issue.path);
    // a document that is not a mapping at all has only its root to name
    if (rootLevel && rootIsMapping && !FILE_LEVEL.test(issue.message)) throw new Error(`${where}: "${issue.message}" names no key path`);
    // a *_file value is a path, and naming the path that could not be read is the point
    if (/_file$/.test(issue.path)) continue;
    for (const secret of SECRETS) {
      if (issue.message.includes(secret) || issue.path.includes(secret)) throw new Error(`${where}: an issue repeats a secret: ${issue.path}: ${issue.message.slice(0, 80)}`);
    }
  }
}

function isMapping(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function load(configText: string, policyTexts: Record<string, string>): Config | ConfigError {
  const issues: ConfigIssue[] = [];
  const raw = parseYaml(configText, '', issues);
  if (raw === undefined) return new ConfigError(issues);
  const probe: ConfigIssue[] = [];
  rootsAreMappings = isMapping(raw) && Object.values(policyTexts).every((text) => isMapping(parseYaml(text, 'p', probe) ?? {}));
  const files: Record<string, string> = { [join(BASE_DIR, 'secret.txt')]: `${COOKIE_SECRET}\n` };
  for (const [name, text] of Object.entries(policyTexts)) files[join(BASE_DIR, 'policies', name)] = text;
  const fs = memoryFs(files);
  try {
    return parseConfig(raw, { baseDir: BASE_DIR, env: ENV, readFile: fs.readFile, listDir: fs.listDir });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw new Error(`parseConfig threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
}

/**
 * A config the loader accepted must build: routes and policies compile. check-config parses
 * session.redis.url the way the store does (the test below), so a refused URL is a ConfigError.
 */
function compileAccepted(config: Config): void {
  compileRoutes(config.routes);
  compilePolicies(config.policies);
}

let rootsAreMappings = true;

function runCase(configText: string, policyTexts: Record<string, string>): void {
  rootsAreMappings = true;
  const result = load(configText, policyTexts);
  if (result instanceof ConfigError) checkIssues(result.issues, 'config', rootsAreMappings);
  else compileAccepted(result);
}

t.test('the valid base documents are valid (the mutations start from something real)', async (t) => {
  const result = load(toYaml(baseConfig()), { 'eng.yaml': toYaml(basePolicy()) });
  t.notOk(result instanceof ConfigError, result instanceof ConfigError ? result.issues.map((i) => `${i.path}: ${i.message}`).join('\n') : 'valid');
});

t.test('config YAML', async (t) => {
  const property = fc.property(fc.array(mutation, { minLength: 1, maxLength: 5 }), textDamage, (mutations, d) => {
    runCase(damage(toYaml(mutate(baseConfig(), mutations)), d), { 'eng.yaml': toYaml(basePolicy()) });
  });
  await checkProperty(t, 'config documents', property, { seed, numRuns: runs(300) });
});

t.test('policy YAML', async (t) => {
  const property = fc.property(
    fc.array(mutation, { minLength: 1, maxLength: 5 }),
    textDamage,
    fc.constantFrom('eng.yaml', 'eng.yml', 'ENG.YAML'),
    fc.boolean(),
    (mutations, d, fileName, second) => {
      const policies: Record<string, string> = { [fileName]: damage(toYaml(mutate(basePolicy(), mutations)), d) };
      if (second) policies['other.yaml'] = toYaml({ ...basePolicy(), name: 'other' });
      runCase(toYaml(baseConfig()), policies);
    },
  );
  await checkProperty(t, 'policy documents', property, { seed: seed + 1, numRuns: runs(300) });
});

t.test(
  'check-config refuses a session.redis.url the gateway would refuse',
  async (t) => {
    for (const url of [':redis://127.0.0.1:6379/0', 'http://127.0.0.1:6379', 'redis://h/100', 'redis+cluster://h:1/2']) {
      const doc = baseConfig();
      (doc.session as { redis: { url: string } }).redis.url = url;
      const result = load(toYaml(doc), { 'eng.yaml': toYaml(basePolicy()) });
      let gatewayRefuses = false;
      try {
        parseRedisUrl(url);
      } catch {
        gatewayRefuses = true;
      }
      t.ok(gatewayRefuses, `the gateway refuses ${url}`);
      t.ok(result instanceof ConfigError && result.issues.some((i) => i.path === 'session.redis.url'), `check-config refuses ${url} at session.redis.url`);
    }
  },
);
