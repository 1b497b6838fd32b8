import { spawn } from 'node:child_process';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { freePort } from '../support/ports.js';
import { startTestIdp } from '../support/idp.js';
import { eventually } from '../support/stack.js';

/** The `portcullis` command as operators run it: exit codes, messages, signals. */
const mainJs = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const example = fileURLToPath(new URL('../../../config/portcullis.example.yaml', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [mainJs, ...args], { env: { ...process.env, PORTCULLIS_CONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, output: () => stdout + stderr };
}

const SECRETS = { OIDC_CLIENT_SECRET: 'x', PORTCULLIS_COOKIE_SECRET: 'a-cookie-secret-of-at-least-32-bytes-long!' };

t.test('check-config: the example is valid', async (t) => {
  const { code, stdout } = await run(['check-config', example], SECRETS).done;
  t.equal(code, 0);
  t.match(stdout, /ok/);
});

t.test('check-config: a public_url with a path is refused, naming the key and what to use', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cli-'));
  await mkdir(join(dir, 'policies'));
  await writeFile(join(dir, 'policies', 'everyone.yaml'), 'name: everyone\nallow:\n  - authenticated: true\n');
  const file = join(dir, 'path.yaml');
  await writeFile(
    file,
    [
      'server: { public_url: "https://corp.example/auth" }',
      'idp: { issuer: "https://idp.example.com", client_id: "c", client_secret: "s" }',
      'cookie: { secret: "a-cookie-secret-of-at-least-32-bytes-long!" }',
      'routes:',
      '  - { from: "https://corp.example/app", to: "http://127.0.0.1:3000", policy: everyone }',
    ].join('\n'),
  );
  const { code, stderr } = await run(['check-config', file]).done;
  t.equal(code, 1);
  t.match(stderr, /server\.public_url: a path \("\/auth"\) is not supported: the gateway's endpoints live at \/\.portcullis\/ on the host itself; use "https:\/\/corp\.example"/);
  t.equal(stderr.match(/server\.public_url/g)?.length, 1, 'one problem, reported once');
});

t.test('check-config: every problem at once, each with its key path, exit 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cli-'));
  await mkdir(join(dir, 'policies'));
  const file = join(dir, 'bad.yaml');
  await writeFile(
    file,
    [
      'server: { public_url: "not a url", listen: "0.0.0.0:8080" }',
      'idp: { issuer: "https://idp.example.com", client_id: "c" }',
      'cookie: { secret: "short" }',
      'session: { lifetime: "forever" }',
      'routes:',
      '  - { from: "http://a.example.com", to: "ftp://x", policy: missing }',
      'surprise: true',
    ].join('\n'),
  );
  const { code, stderr } = await run(['check-config', file]).done;
  t.equal(code, 1);
  t.match(stderr, /server\.public_url: .*URL/);
  t.match(stderr, /cookie\.secret: .*32 bytes/);
  t.match(stderr, /session\.lifetime: .*duration/);
  t.match(stderr, /routes\[0\]\.to: must be an http\(s\) URL/);
  t.match(stderr, /surprise/);
  t.notMatch(stderr, /short/, 'the secret value is not echoed');
});

t.test('serve: a bad config exits 1 naming the key; a missing file exits 1', async (t) => {
  const missing = await run(['--config', '/nonexistent/portcullis.yaml']).done;
  t.equal(missing.code, 1);
  t.match(missing.stderr, /nonexistent/);
  const usage = await run(['frobnicate']).done;
  t.equal(usage.code, 1);
  t.match(usage.stderr, /Usage/);
});

t.test('serve: starts with a config, answers /healthz, drains and exits 0 on SIGTERM', async (t) => {
  const [port, admin] = [await freePort(), await freePort()];
  const publicUrl = `http://127.0.0.1:${port}`;
  const idp = await startTestIdp({ publicUrl });
  t.teardown(() => idp.close());
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cli-'));
  await mkdir(join(dir, 'policies'));
  await writeFile(join(dir, 'policies', 'everyone.yaml'), 'name: everyone\nallow:\n  - authenticated: true\n');
  await writeFile(join(dir, 'cookie-secret'), 'a-cookie-secret-of-at-least-32-bytes-long!\n');
  const file = join(dir, 'portcullis.yaml');
  await writeFile(
    file,
    [
      `server: { listen: "127.0.0.1:${port}", admin_listen: "127.0.0.1:${admin}", public_url: "${publicUrl}" }`,
      `idp: { issuer: "${idp.issuer}", client_id: portcullis, client_secret: "\${env:TEST_OIDC_SECRET}", allow_insecure_http: true }`,
      'cookie: { secret_file: cookie-secret }',
      'routes:',
      `  - { from: "${publicUrl}", to: "http://127.0.0.1:1", policy: everyone }`,
      'log: { level: info }',
    ].join('\n'),
  );
  const proc = run(['serve', '--config', file], { TEST_OIDC_SECRET: 'test-client-secret-of-reasonable-length' });
  t.teardown(() => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  });
  await eventually(async () => (await fetch(`http://127.0.0.1:${admin}/healthz`)).ok, 15_000);
  await eventually(async () => (await fetch(`http://127.0.0.1:${admin}/readyz`)).ok, 15_000);
  proc.child.kill('SIGTERM');
  const { code } = await proc.done;
  t.equal(code, 0, 'clean stop');
  const logs = proc.output();
  t.match(logs, /"msg":"listening"/, 'JSON logs');
  t.notMatch(logs, /a-cookie-secret-of-at-least|test-client-secret-of/, 'no secrets in logs');
});

t.test('sessions commands refuse the memory store with a clear message', async (t) => {
  const { code, stdout } = await run(['sessions', 'list', '--config', example, '--all'], SECRETS).done;
  t.equal(code, 1);
  t.match(stdout, /session\.store: redis/);
});

t.test('no command and no config runs the demo (what `npm start` does)', async (t) => {
  const [gateway, admin, idp, whoami] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const proc = run([], {
    PORTCULLIS_DEMO_PORT: String(gateway),
    PORTCULLIS_DEMO_ADMIN_PORT: String(admin),
    PORTCULLIS_DEMO_IDP_PORT: String(idp),
    PORTCULLIS_DEMO_WHOAMI_PORT: String(whoami),
  });
  t.teardown(() => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  });
  await eventually(() => proc.output().includes(`Open http://127.0.0.1:${gateway}/`), 20_000);
  const res = await fetch(`http://127.0.0.1:${gateway}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
  t.equal(res.status, 302);
  t.match(res.headers.get('location'), new RegExp(`^http://localhost:${idp}/`));
  proc.child.kill('SIGTERM');
  t.equal((await proc.done).code, 0);
});
