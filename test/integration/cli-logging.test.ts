import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { writeConfigDir } from '../support/config-dir.js';
import { startTestIdp, type DemoIdp } from '../support/idp.js';
import { freePorts } from '../support/ports.js';
import { eventually } from '../support/stack.js';

/** What an operator sees in the process output: LOG_LEVEL over log.level, LOG_FORMAT, the demo's first screen. */
const mainJs = fileURLToPath(new URL('../../src/main.js', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [mainJs, ...args], {
    env: { ...process.env, PORTCULLIS_CONFIG: '', LOG_LEVEL: '', LOG_FORMAT: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, done, output: () => output };
}

let idp: DemoIdp;
t.before(async () => {
  idp = await startTestIdp({ publicUrl: 'http://127.0.0.1:1' });
});
t.teardown(() => idp.close());

/** A config file at `level`, on fresh ports (or the admin port given); returns the file and the admin URL. */
async function configAt(level: string, adminPort?: number) {
  const [port, freeAdmin] = await freePorts(2);
  const admin = adminPort ?? freeAdmin;
  const { file } = await writeConfigDir('portcullis-log-', [
    `server: { listen: "127.0.0.1:${port}", admin_listen: "127.0.0.1:${admin}", public_url: "http://127.0.0.1:${port}" }`,
    `idp: { issuer: "${idp.issuer}", client_id: portcullis, client_secret: s3cret, allow_insecure_http: true }`,
    'cookie: { secret: "a-cookie-secret-of-at-least-32-bytes-long!" }',
    'routes:',
    `  - { from: "http://127.0.0.1:${port}", to: "http://127.0.0.1:1", public: true }`,
    `log: { level: ${level} }`,
  ]);
  return { file, adminUrl: `http://127.0.0.1:${admin}` };
}

/** Starts `serve`, waits until it answers /readyz, stops it with SIGTERM; resolves with its output. */
async function serveOnce(t: Test, file: string, adminUrl: string, env: Record<string, string>) {
  const proc = run(['--config', file], env);
  t.teardown(() => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  });
  await eventually(async () => (await fetch(`${adminUrl}/readyz`)).ok, 15_000).catch((error: unknown) => {
    throw new Error(`${String(error)}; exit ${proc.child.exitCode}; output:\n${proc.output()}`);
  });
  proc.child.kill('SIGTERM');
  t.equal(await proc.done, 0, 'clean stop');
  return proc.output();
}

t.test('LOG_LEVEL overrides log.level, both ways', async (t) => {
  const quiet = await configAt('warn');
  const louder = await serveOnce(t, quiet.file, quiet.adminUrl, { LOG_LEVEL: 'info' });
  t.match(louder, /"level":30,.*"msg":"listening"/, 'info lines although the file says warn');

  const loud = await configAt('info');
  const quieter = await serveOnce(t, loud.file, loud.adminUrl, { LOG_LEVEL: 'error' });
  t.notMatch(quieter, /"msg":"listening"/, 'no info lines although the file says info');
  t.notMatch(quieter, /"level":40/, 'no warnings either');
});

t.test('LOG_FORMAT=pretty gives readable lines instead of JSON', async (t) => {
  const { file, adminUrl } = await configAt('info');
  const output = await serveOnce(t, file, adminUrl, { LOG_FORMAT: 'pretty' });
  t.match(output, /INFO.*: listening/);
  t.notMatch(output, /^\{"level"/m, 'no JSON lines');
});

t.test('a LOG_LEVEL that is not a level is refused with exit 1, naming the variable', async (t) => {
  const { file } = await configAt('info');
  const proc = run(['--config', file], { LOG_LEVEL: 'loud' });
  t.equal(await proc.done, 1);
  t.match(proc.output(), /LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent/);
});

t.test('the demo opens with its banner, not with warnings or IdP notices', async (t) => {
  const [gateway, admin, idpPort, whoami] = await freePorts(4);
  const proc = run(['demo'], {
    PORTCULLIS_DEMO_PORT: String(gateway),
    PORTCULLIS_DEMO_ADMIN_PORT: String(admin),
    PORTCULLIS_DEMO_IDP_PORT: String(idpPort),
    PORTCULLIS_DEMO_WHOAMI_PORT: String(whoami),
    LOG_LEVEL: 'info',
  });
  t.teardown(() => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  });
  await eventually(() => proc.output().includes('IdP discovered'), 20_000);
  proc.child.kill('SIGTERM');
  t.equal(await proc.done, 0);
  const output = proc.output();
  t.match(output, new RegExp(`^Portcullis demo is running\\.\\n  Open http://127\\.0\\.0\\.1:${gateway}/ `), 'the Open line comes first');
  t.notMatch(output, /^\{/m, 'no JSON lines');
  t.notMatch(output, /^oidc-provider /m, 'no raw oidc-provider notices');
  t.match(output, /INFO.*demo IdP \(development mode, expected here\)/, 'its notices come after, readable');
});

t.test('a port that is already in use ends serve with exit 2, naming the key, instead of leaving it running', async (t) => {
  const { createServer } = await import('node:net');
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
  const taken = (squatter.address() as { port: number }).port;
  const { file } = await configAt('info', taken);
  const proc = run(['--config', file]);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 15_000);
  t.teardown(() => clearTimeout(timer));
  t.equal(await proc.done, 2, 'exits by itself');
  t.match(proc.output(), new RegExp(`server\\.admin_listen: 127\\.0\\.0\\.1:${taken} is already in use`));
});
