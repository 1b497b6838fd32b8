import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { writeConfigDir } from '../support/config-dir.js';
import { startTestIdp } from '../support/idp.js';
import { freePorts } from '../support/ports.js';
import { eventually } from '../support/stack.js';
import { startUpstream } from '../support/upstream.js';
import { clientFrame, GOING_AWAY_FRAME, openWebSocket } from '../support/websocket.js';

/**
 * SIGTERM with WebSockets open and a slow request in flight, as Kubernetes stops a pod: each
 * WebSocket gets a 1001 Close frame (after the frame in progress, never inside it), the slow
 * request still completes, and the process exits 0 within server.shutdown_timeout.
 */
const mainJs = fileURLToPath(new URL('../../src/main.js', import.meta.url));

t.test('SIGTERM: 1001 to open WebSockets, the slow request completes, exit 0', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const [port, admin] = await freePorts(2);
  const publicUrl = `http://127.0.0.1:${port}`;
  const idp = await startTestIdp({ publicUrl });
  t.teardown(() => idp.close());
  const { file, remove } = await writeConfigDir('portcullis-stop-', [
    `server: { listen: "127.0.0.1:${port}", admin_listen: "127.0.0.1:${admin}", public_url: "${publicUrl}", shutdown_timeout: 10s }`,
    `idp: { issuer: "${idp.issuer}", client_id: portcullis, client_secret: s3cret, allow_insecure_http: true }`,
    'cookie: { secret: "a-cookie-secret-of-at-least-32-bytes-long!" }',
    'routes:',
    `  - { from: "${publicUrl}", to: "${upstream.url}", public: true, websockets: true }`,
    'log: { level: info }',
  ]);
  t.teardown(remove);
  const child = spawn(process.execPath, [mainJs, '--config', file], { env: { ...process.env, LOG_LEVEL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await eventually(async () => (await fetch(`http://127.0.0.1:${admin}/healthz`)).ok, 15_000);

  // an idle WebSocket, and one whose frame is half sent (the upstream echoes every byte back)
  const idle = await openWebSocket(`${publicUrl}/ws/idle`);
  const busy = await openWebSocket(`${publicUrl}/ws/busy`);
  t.equal(idle.status, 101);
  const hello = clientFrame(Buffer.from('hello'));
  idle.socket.write(hello);
  await eventually(() => idle.received().length >= hello.length);
  const frame = clientFrame(Buffer.from('0123456789'));
  const half = 2 + 4 + 5;
  busy.socket.write(frame.subarray(0, half));
  await eventually(() => busy.received().length >= half);

  const slow = fetch(`${publicUrl}/slow?__delay=1500`).then(async (res) => ({ status: res.status, body: await res.text() }));
  await eventually(() => upstream.requests.some((r) => r.url.startsWith('/slow')));

  child.kill('SIGTERM');
  await eventually(() => output.includes('stopping'), 5_000);

  await idle.closed;
  t.same([...idle.received()], [...hello, ...GOING_AWAY_FRAME], 'idle socket: its echo, then Close 1001');

  busy.socket.write(frame.subarray(half));
  await busy.closed;
  t.same([...busy.received()], [...frame, ...GOING_AWAY_FRAME], 'busy socket: the whole frame, then Close 1001');

  const answer = await slow;
  t.equal(answer.status, 200, 'the slow request in flight completed');
  t.match(answer.body, /"url":"\/slow/);
  t.equal(await exited, 0, 'clean exit');
});
