import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfig, loadConfigFile } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors.js';
import { compilePolicies } from '../../../src/policy/compile.js';
import { compileRoutes } from '../../../src/routes/compile.js';
import { COOKIE_SECRET } from './helpers.js';

/** repository root, from dist/test/unit/config */
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const VALID = `
server:
  public_url: "http://127.0.0.1:8080"
idp:
  issuer: "https://idp.example.com"
  client_id: portcullis
  client_secret_file: secrets/client
cookie:
  secret: "\${env:COOKIE_SECRET}"
routes:
  - from: "http://127.0.0.1:8080"
    to: "http://127.0.0.1:3000"
    policy: everyone
policies_dir: rules
`;

async function errorOf(promise: Promise<unknown>): Promise<ConfigError | undefined> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  return undefined;
}

t.test('loadConfigFile resolves relative paths against the file\'s directory', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'secrets'));
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'secrets/client'), 'from-file\n');
  writeFileSync(join(dir, 'rules/everyone.yaml'), 'name: everyone\nallow:\n  - authenticated: true\n');
  writeFileSync(join(dir, 'portcullis.yaml'), VALID);
  const config = await loadConfigFile(join(dir, 'portcullis.yaml'), { COOKIE_SECRET });
  t.equal(config.baseDir, dir);
  t.equal(config.idp.client_secret, 'from-file');
  t.strictSame(config.policies.map((p) => p.name), ['everyone']);
  t.strictSame(await checkConfig(join(dir, 'portcullis.yaml'), { COOKIE_SECRET }), { ok: true });
});

t.test('file-level problems', async (t) => {
  const dir = tempDir(t);
  const cases: Array<[name: string, text: string | undefined, expected: string[]]> = [
    ['missing file', undefined, [`: cannot read config file "${join(dir, 'missing.yaml')}" (ENOENT)`]],
    ['empty file', '', [': the file is empty']],
    ['comments only', '# nothing\n', [': the file is empty']],
    ['syntax error without echoing the line', 'server:\n  listen: "0.0.0.0:1\ncookie:\n  secret: hunter2hunter2\n', [': YAML syntax error at line 5, column 1: Missing closing "quote']],
    ['duplicate key', 'server: {}\nserver: {}\n', [': YAML syntax error at line 2, column 1: Map keys must be unique']],
    ['two documents', 'a: 1\n---\nb: 2\n', [': YAML syntax error at line 2, column 1: Source contains multiple documents; please use YAML.parseAllDocuments()']],
  ];
  for (const [name, text, expected] of cases) {
    const file = join(dir, text === undefined ? 'missing.yaml' : `${name.replaceAll(' ', '-')}.yaml`);
    if (text !== undefined) writeFileSync(file, text);
    const error = await errorOf(loadConfigFile(file, {}));
    t.strictSame(error?.issues.map((i) => `${i.path}: ${i.message}`), expected, name);
    const checked = await checkConfig(file, {});
    t.equal(checked.ok, false, `${name}: check-config fails`);
  }
});

t.test('YAML errors never quote the document, whichever kind of error it is', async (t) => {
  const dir = tempDir(t);
  const SECRET = 'hunter2-the-cookie-secret';
  // each of these makes the yaml package put a piece of the offending line into its message
  const cases: Array<[name: string, text: string, expected: string]> = [
    ['block scalar header', `cookie:\n  secret: |${SECRET}\n`, 'YAML syntax error at line 2, column 12: YAML cannot read the text here (a value that needs quotes?)'],
    ['not a YAML token', `cookie:\n  secret: >-2z ${SECRET}\n`, 'YAML syntax error at line 2, column 14: YAML cannot read the text here (a value that needs quotes?)'],
    ['a tag without suffix', `cookie:\n  secret: !${SECRET}! x\n`, 'YAML syntax error at line 2, column 11: an unknown !tag (this file format uses none)'],
    ['a bad escape', `cookie:\n  secret: "\\q${SECRET}"\n`, 'YAML syntax error at line 2, column 12: a double-quoted string has an invalid escape sequence'],
  ];
  for (const [name, text, expected] of cases) {
    const file = join(dir, `${name.replaceAll(' ', '-')}.yaml`);
    writeFileSync(file, text);
    const error = await errorOf(loadConfigFile(file, {}));
    const messages = error?.issues.map((i) => i.message) ?? [];
    t.ok(messages.length > 0, `${name}: refused`);
    t.notOk(messages.some((m) => m.includes(SECRET.slice(0, 8))), `${name}: no piece of the line in ${JSON.stringify(messages)}`);
    t.equal(messages[0], expected, name);
  }
});

t.test('checkConfig returns every issue', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'c.yaml'), VALID.replace('"http://127.0.0.1:3000"', '"ftp://x"'));
  const result = await checkConfig(join(dir, 'c.yaml'), {});
  t.strictSame(result, {
    ok: false,
    issues: [
      { path: 'cookie.secret', message: 'environment variable COOKIE_SECRET is not set' },
      { path: 'idp.client_secret_file', message: `cannot read "${join(dir, 'secrets/client')}" (ENOENT)` },
      { path: 'routes[0].to', message: 'must be an http(s) URL' },
      { path: 'policies_dir', message: `directory "${join(dir, 'rules')}" does not exist` },
    ],
  });
});

t.test('the example config and policies are valid and compile', async (t) => {
  const env = { OIDC_CLIENT_SECRET: 'demo-client-secret', PORTCULLIS_COOKIE_SECRET: COOKIE_SECRET };
  const config = await loadConfigFile(join(ROOT, 'config/portcullis.example.yaml'), env);
  t.strictSame(config.policies.map((p) => p.name).sort(), ['engineering', 'everyone']);
  const table = compileRoutes(config.routes);
  const policies = compilePolicies(config.policies);
  for (const route of table.routes) if (route.policy) t.ok(policies.has(route.policy), `${route.id} → ${route.policy}`);
  t.equal(table.match('http', '127.0.0.1:8080', '/eng/x')?.policy, 'engineering');
  t.equal(table.match('http', '127.0.0.1:8080', '/public')?.public, true);
  t.equal(table.match('http', '127.0.0.1:8080', '/other')?.policy, 'everyone');

  const engineering = policies.get('engineering')!;
  const staff = { sub: 's', email: 'ada@example.com', groups: [], claims: { email_verified: true } };
  t.equal(engineering.evaluate(staff, { method: 'GET', path: '/' }).allow, true);
  t.equal(engineering.evaluate(staff, { method: 'GET', path: '/admin' }).allow, false, 'non-admins are denied /admin');
  t.equal(engineering.evaluate({ ...staff, groups: ['admins'] }, { method: 'GET', path: '/admin' }).allow, true);
  t.equal(engineering.evaluate({ ...staff, email: 'x@other.test' }, { method: 'GET', path: '/' }).allow, false);
  t.equal(policies.get('everyone')!.evaluate({ ...staff, email: undefined }, { method: 'GET', path: '/' }).allow, true);
});
