import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { startTestIdp } from '../support/idp.js';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/eventually.js';
import { startUpstream, type Upstream } from '../support/upstream.js';
import type { DemoIdp } from '../../src/demo/idp.js';

/**
 * Hot reload as an operator meets it: a real `portcullis serve` child process, its config file
 * edited, swapped ConfigMap-style or signalled, and a real upstream behind public routes.
 */
const mainJs = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const COOKIE_SECRET = 'a-cookie-secret-of-at-least-32-bytes-long!';

let idp: DemoIdp;
let upstream: Upstream;
t.before(async () => {
  idp = await startTestIdp({ publicUrl: 'http://127.0.0.1:1' });
  upstream = await startUpstream();
});
t.teardown(async () => {
  await upstream?.close();
  await idp?.close();
});

interface Served {
  port: number;
  admin: number;
  base: string;
  /** the config file text for these ports, with the given route paths (and extra lines) */
  config(paths: string[], extra?: string[]): string;
  /** JSON log lines so far */
  logs(): Array<Record<string, unknown>>;
  signal(name: NodeJS.Signals): void;
  metric(name: string): Promise<number | undefined>;
}

/**
 * Starts `portcullis serve` on a fresh proxy port (the admin port is the kernel's pick, read from
 * the child's own `listening` line, so a health check can never be answered by another process).
 * A proxy port some parallel test took in the gap after it was picked is picked again; any other
 * early exit fails with the child's exit code and stderr.
 */
async function serve(t: Test, configPath: string, write: (text: string) => Promise<void>, firstPaths: string[]): Promise<Served> {
  for (let attempt = 1; ; attempt++) {
    const started = await startServe(t, configPath, write, firstPaths);
    if (started.ok) return started.served;
    if (!(started.portInUse && attempt < 3)) throw new Error(`portcullis serve exited with ${started.exitCode} before listening: ${started.stderr}`);
  }
}

type Started = { ok: true; served: Served } | { ok: false; portInUse: boolean; exitCode: number | null; stderr: string };

async function startServe(t: Test, configPath: string, write: (text: string) => Promise<void>, firstPaths: string[]): Promise<Started> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = (paths: string[], extra: string[] = []) =>
    [
      `server: { listen: "127.0.0.1:${port}", admin_listen: "127.0.0.1:0", public_url: "${base}" }`,
      `idp: { issuer: "${idp.issuer}", client_id: portcullis, client_secret: test-client-secret-of-reasonable-length, allow_insecure_http: true }`,
      `cookie: { secret: "${COOKIE_SECRET}" }`,
      'routes:',
      ...paths.map((path) => `  - { from: "${base}/${path}", to: "${upstream.url}", public: true }`),
      ...extra,
    ].join('\n');
  await write(config(firstPaths));
  const child = spawn(process.execPath, [mainJs, 'serve', '--config', configPath], {
    env: { ...process.env, PORTCULLIS_CONFIG: '', LOG_LEVEL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stderr = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    t.comment(String(d));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let closed = false; // exited, and its output all read
  child.once('close', () => (closed = true));
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  const logs = () => output.split('\n').flatMap(parseLine);
  const listening = await eventually(() => logs().find((l) => l['msg'] === 'listening') ?? (closed ? 'exited' : undefined), 15_000);
  if (listening === 'exited') {
    return { ok: false, portInUse: stderr.includes('server.listen') && stderr.includes('already in use'), exitCode: child.exitCode, stderr };
  }
  const admin = Number(String(listening!['admin']).split(':').pop());
  if (!Number.isInteger(admin)) throw new Error(`no admin port in the 'listening' line: ${JSON.stringify(listening)}`);
  await eventually(async () => {
    if (closed) throw new Error(`portcullis serve exited with ${child.exitCode} after listening: ${stderr}`);
    return (await fetch(`http://127.0.0.1:${admin}/healthz`)).ok;
  }, 15_000);
  return {
    ok: true,
    served: {
      port,
      admin,
      base,
      config,
      logs,
      signal: (name) => child.kill(name),
      async metric(name) {
        const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith(`${name} `));
        return line === undefined ? undefined : Number(line.split(' ')[1]);
      },
    },
  };
}

/** one JSON log line; the last line may still be arriving */
function parseLine(line: string): Array<Record<string, unknown>> {
  try {
    return line.startsWith('{') ? [JSON.parse(line) as Record<string, unknown>] : [];
  } catch {
    return [];
  }
}

const unlessExists = (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EEXIST') throw error;
};
const status = async (url: string) => (await fetch(url)).status;
const reloadLines = (served: Served) => served.logs().filter((l) => l['part'] === 'reload');

async function plainDir(): Promise<{ path: string; write: (text: string) => Promise<void>; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-reload-'));
  await mkdir(join(dir, 'policies'));
  await writeFile(join(dir, 'policies', 'everyone.yaml'), 'name: everyone\nallow:\n  - authenticated: true\n');
  const path = join(dir, 'portcullis.yaml');
  return { path, dir, write: (text) => writeFile(path, text) };
}

t.test('SIGHUP re-reads the config: a new route serves, the reload metrics move', async (t) => {
  const file = await plainDir();
  const gw = await serve(t, file.path, file.write, ['a']);
  t.equal(await status(`${gw.base}/a`), 200);
  t.equal(await status(`${gw.base}/b`), 404, 'no route /b yet');
  const startedAt = (await gw.metric('portcullis_config_last_reload_timestamp_seconds'))!;

  gw.signal('SIGHUP');
  await eventually(() => reloadLines(gw).some((l) => l['trigger'] === 'SIGHUP' && l['msg'] === 'config reloaded'), 10_000);
  t.ok((await gw.metric('portcullis_config_last_reload_timestamp_seconds'))! > startedAt, 'timestamp moved on an unchanged reload');

  await file.write(gw.config(['a', 'b']));
  gw.signal('SIGHUP');
  await eventually(async () => (await status(`${gw.base}/b`)) === 200, 10_000);
  t.equal(await status(`${gw.base}/a`), 200, 'the old route still serves');
  t.equal(await gw.metric('portcullis_config_last_reload_success'), 1);
  t.ok(reloadLines(gw).some((l) => l['trigger'] === 'SIGHUP' && l['routesChanged'] === 1), 'the log line counts the changed route');
  t.ok(gw.logs().every((l) => l['msg'] !== 'stopping: draining in-flight requests'), 'SIGHUP did not stop the process');
});

t.test('a change of the config file or a new policy file is picked up without a signal', async (t) => {
  const file = await plainDir();
  const gw = await serve(t, file.path, file.write, ['a']);
  await file.write(gw.config(['a', 'c']));
  await eventually(async () => (await status(`${gw.base}/c`)) === 200, 10_000);
  await eventually(() => reloadLines(gw).some((l) => l['trigger'] === 'file change'), 10_000);
  const before = reloadLines(gw).length;

  // (that an identical rewrite alone reloads nothing is in test/unit/config/watch.test.ts)
  await file.write(gw.config(['a', 'c']));
  await writeFile(join(file.dir, 'policies', 'extra.yaml'), 'name: extra\nallow:\n  - authenticated: true\n');
  await eventually(() => reloadLines(gw).some((l) => l['policies'] === 2), 10_000).catch((error: unknown) => {
    t.comment(JSON.stringify(reloadLines(gw)));
    throw error;
  });
  t.equal(reloadLines(gw).length, before + 1, 'one reload for the burst of writes');
});

t.test('a Kubernetes ConfigMap update (..data symlink swapped) is picked up', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-configmap-'));
  // the kubelet's layout: timestamped generation directories, ..data pointing at the current one,
  // and each key a symlink through ..data
  const generation = async (name: string, text: string, policy: string) => {
    await mkdir(join(dir, name, 'policies'), { recursive: true });
    await writeFile(join(dir, name, 'portcullis.yaml'), text);
    await writeFile(join(dir, name, 'policies', 'p.yaml'), policy);
  };
  const swapData = async (name: string) => {
    await symlink(name, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  const configPath = join(dir, 'portcullis.yaml');
  const onePolicy = 'name: first\nallow:\n  - authenticated: true\n';
  const gw = await serve(
    t,
    configPath,
    async (text) => {
      await generation('..2026_12_02_a', text, onePolicy);
      await swapData('..2026_12_02_a');
      // (again on a second try, when the first proxy port was taken)
      await symlink('..data/portcullis.yaml', configPath).catch(unlessExists);
      await symlink('..data/policies', join(dir, 'policies')).catch(unlessExists);
    },
    ['a'],
  );
  t.equal(await status(`${gw.base}/d`), 404);
  await generation('..2026_12_02_b', gw.config(['a', 'd']), 'name: second\nallow:\n  - authenticated: true\n');
  await swapData('..2026_12_02_b');
  await eventually(async () => (await status(`${gw.base}/d`)) === 200, 10_000);
  await eventually(() => reloadLines(gw).some((l) => l['trigger'] === 'file change' && l['policiesChanged'] === 2), 10_000);
  t.pass('new route and the new generation of policies are in force');

  // a second swap works too (the watches follow the new generation)
  await generation('..2026_12_02_c', gw.config(['a', 'e']), onePolicy);
  await swapData('..2026_12_02_c');
  await eventually(async () => (await status(`${gw.base}/e`)) === 200, 10_000);
  t.equal(await status(`${gw.base}/d`), 404, 'the removed route is gone');
});

t.test('an invalid change is refused: the running config keeps serving, metric 0, the log names the key path', async (t) => {
  const file = await plainDir();
  const gw = await serve(t, file.path, file.write, ['a']);
  await file.write(gw.config(['a'], [`  - { from: "${gw.base}/x", to: "${upstream.url}", policy: no-such-policy }`, 'session: { lifetime: forever }']));
  gw.signal('SIGHUP');
  await eventually(async () => (await gw.metric('portcullis_config_last_reload_success')) === 0, 10_000);
  const refused = reloadLines(gw).find((l) => l['msg'] === 'config reload refused: the running config stays in force');
  t.ok(refused, 'refusal logged');
  const issues = (refused?.['issues'] ?? []) as string[];
  t.ok(issues.some((i) => i.startsWith('routes[1].policy:')), 'names routes[1].policy');
  t.ok(issues.some((i) => i.startsWith('session.lifetime:')), 'and every other problem');
  t.equal(await status(`${gw.base}/a`), 200, 'the running config still serves');
  t.equal(await status(`${gw.base}/x`), 404, 'nothing of the refused config applied');

  await file.write(gw.config(['a', 'x']));
  gw.signal('SIGHUP');
  await eventually(async () => (await gw.metric('portcullis_config_last_reload_success')) === 1, 10_000);
  t.equal(await status(`${gw.base}/x`), 200, 'a fixed config applies');
});

t.test('a listen address change keeps the running value and the log says a restart is needed', async (t) => {
  const file = await plainDir();
  const gw = await serve(t, file.path, file.write, ['a']);
  const otherPort = await freePort();
  const text = gw.config(['a', 'b']).replace(`listen: "127.0.0.1:${gw.port}"`, `listen: "127.0.0.1:${otherPort}"`);
  await file.write(text);
  gw.signal('SIGHUP');
  const line = await eventually(() => reloadLines(gw).find((l) => Array.isArray(l['restart_needed'])), 10_000);
  t.same(line?.['restart_needed'], ['server.listen']);
  t.match(String(line?.['msg']), /restart needed for: server\.listen/);
  t.equal(await status(`${gw.base}/b`), 200, 'the rest of the change applied, on the running address');
  await t.rejects(fetch(`http://127.0.0.1:${otherPort}/a`), 'the new address is not bound');
  t.equal(await gw.metric('portcullis_config_last_reload_success'), 1);
});

t.test('no failed request while reloading ten times under load', async (t) => {
  const file = await plainDir();
  const gw = await serve(t, file.path, file.write, ['a']);
  const total = 2000;
  const concurrency = 8;
  let sent = 0;
  let done = 0;
  let reloading = true;
  const failures: string[] = [];
  // at least `total` requests, and load until the last reload is through (bounded either way)
  const worker = async () => {
    while ((sent < total || reloading) && sent < total * 10) {
      sent += 1;
      try {
        const res = await fetch(`${gw.base}/a/${sent}`);
        await res.arrayBuffer();
        if (res.status !== 200) failures.push(`status ${res.status}`);
      } catch (error) {
        failures.push(String(error));
      }
      done += 1;
    }
  };
  const load = Promise.all(Array.from({ length: concurrency }, worker));
  let reloads = 0;
  for (let i = 1; i <= 10; i += 1) {
    // spread the reloads over the run: each waits for its share of requests to have completed
    await eventually(() => done >= (i * total) / 12, 60_000, 5);
    const paths = i % 2 ? ['a', 'b'] : ['a'];
    await file.write(gw.config(paths));
    const before = reloadLines(gw).filter((l) => l['trigger'] === 'SIGHUP').length;
    gw.signal('SIGHUP');
    await eventually(() => reloadLines(gw).filter((l) => l['trigger'] === 'SIGHUP').length > before, 10_000, 5);
    reloads += 1;
  }
  reloading = false;
  await load;
  t.equal(reloads, 10);
  t.ok(done >= total, `${done} requests completed`);
  t.same(failures, [], 'every request answered 200');
  // a watch-triggered reload may catch the file mid-write (writeFile truncates first) and is then
  // refused, keeping the running config: correct, and the SIGHUP that follows reads the whole file
  const signalled = reloadLines(gw).filter((l) => l['trigger'] === 'SIGHUP');
  t.same(signalled.filter((l) => l['msg'] !== 'config reloaded'), [], 'every SIGHUP reload succeeded');
});
