import { randomBytes } from 'node:crypto';
import { request, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import t from 'tap';
import { startUpstream } from '../support/upstream.js';
import { freePort } from '../support/ports.js';
import { makeRoute, startGateway, until } from './forward-harness.js';

type Handshake =
  | { kind: 'upgrade'; res: IncomingMessage; socket: Socket; head: Buffer }
  | { kind: 'response'; res: IncomingMessage; body: string };

const WS_HEADERS: OutgoingHttpHeaders = {
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-key': randomBytes(16).toString('base64'),
  'sec-websocket-version': '13',
};

/** Sends an upgrade request; resolves with the upgraded socket or the plain response. */
function handshake(url: string, headers: OutgoingHttpHeaders = WS_HEADERS, method = 'GET'): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false });
    req.on('upgrade', (res, socket: Socket, head) => resolve({ kind: 'upgrade', res, socket, head }));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ kind: 'response', res, body }));
      res.on('error', () => resolve({ kind: 'response', res, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads from `socket` until `length` bytes arrived. */
function readBytes(socket: Socket, length: number, initial = Buffer.alloc(0)): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = initial;
    const check = () => {
      if (got.length >= length) {
        socket.off('data', onData);
        resolve(got);
      }
    };
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      check();
    };
    socket.on('data', onData);
    socket.once('error', reject);
    check();
  });
}

t.test('a WebSocket upgrade passes bytes both ways with clean headers', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(`${upstream.url}/base`), { identity: { user: 'alice', groups: ['eng'] } });
  t.teardown(() => gw.close());

  const result = await handshake(`${gw.url}/socket/a%2Fb?room=1`, {
    ...WS_HEADERS,
    cookie: 'theme=dark; _portcullis=SESSION',
    'x-portcullis-user': 'admin',
    'x-forwarded-for': '6.6.6.6',
  });
  if (result.kind !== 'upgrade') throw new Error(`expected 101, got ${result.res.statusCode}`);
  t.equal(result.res.statusCode, 101);
  t.ok(result.res.headers['sec-websocket-accept'], 'the upstream’s handshake answer reaches the client');
  const socket = result.socket;
  t.teardown(() => socket.destroy());

  const got = upstream.last()!;
  t.ok(got.upgrade);
  t.equal(got.url, '/base/socket/a%2Fb?room=1', 'the exact upstream path, no re-encoding');
  t.equal(got.headers.cookie, 'theme=dark', 'gateway cookie stripped');
  t.equal(got.headers['x-portcullis-user'], 'alice', 'identity from the gateway, not the client');
  t.equal(got.headers['x-portcullis-groups'], 'eng');
  t.equal(got.headers['x-forwarded-for'], '127.0.0.1');
  t.equal(got.headers.upgrade, 'websocket');
  t.equal(got.headers.connection, 'upgrade');
  t.equal(got.headers.host, new URL(upstream.url).host);
  t.equal(got.rawHeaders.filter((h) => h.toLowerCase() === 'x-portcullis-user').length, 1, 'one identity header, not two');

  // small and large payloads, in both directions (the upstream echoes every byte)
  socket.write('hello');
  t.equal((await readBytes(socket, 5, Buffer.from(result.head))).toString(), 'hello');
  const big = randomBytes(2 * 1024 * 1024);
  socket.write(big);
  t.ok(big.equals(await readBytes(socket, big.length)), '2 MB echoed intact');
});

t.test('closing the forwarder ends open WebSockets', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  const result = await handshake(`${gw.url}/ws`);
  if (result.kind !== 'upgrade') throw new Error('expected an upgrade');
  const closed = new Promise<void>((resolve) => result.socket.on('close', () => resolve()));
  result.socket.on('error', () => {});
  await gw.close();
  await closed;
  t.pass('client socket closed');
});

t.test('upstream closing the connection closes the client side', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  const result = await handshake(`${gw.url}/ws`);
  if (result.kind !== 'upgrade') throw new Error('expected an upgrade');
  const closed = new Promise<void>((resolve) => result.socket.on('close', () => resolve()));
  result.socket.on('error', () => {});
  await upstream.close();
  await closed;
  t.pass('client socket closed after the upstream went away');
});

t.test('upstream down: a plain HTTP/1.1 502 on the socket', async (t) => {
  const port = await freePort();
  const gw = await startGateway(makeRoute(`http://127.0.0.1:${port}`));
  t.teardown(() => gw.close());
  const result = await handshake(`${gw.url}/ws`);
  t.equal(result.kind, 'response');
  t.equal(result.res.statusCode, 502);
  t.same(await gw.upstreamErrors(), { connect: 1 });
});

t.test('an upstream that never answers the handshake: 504 after the route timeout', async (t) => {
  const silent = createNetServer((socket) => socket.on('error', () => {}).resume());
  const accepted = new Set<Socket>();
  silent.on('connection', (s) => {
    accepted.add(s);
    s.on('close', () => accepted.delete(s));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of accepted) s.destroy();
    silent.close();
  });
  const gw = await startGateway(
    makeRoute(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, { timeoutMs: 150 }),
  );
  t.teardown(() => gw.close());
  const result = await handshake(`${gw.url}/ws`);
  t.equal(result.res.statusCode, 504);
  t.same(await gw.upstreamErrors(), { timeout: 1 });
  await until(() => accepted.size === 0, 'the upstream connection to be closed');
});

t.test('a client that leaves mid-handshake closes the upstream connection', async (t) => {
  const silent = createNetServer((socket) => socket.on('error', () => {}).resume());
  const accepted = new Set<Socket>();
  let seen = 0;
  silent.on('connection', (s) => {
    seen++;
    accepted.add(s);
    s.on('close', () => accepted.delete(s));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of accepted) s.destroy();
    silent.close();
  });
  const gw = await startGateway(makeRoute(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`));
  t.teardown(() => gw.close());
  const req = request(`${gw.url}/ws`, { headers: WS_HEADERS, agent: false });
  req.on('error', () => {});
  req.end();
  await until(() => seen === 1, 'the upstream handshake to start');
  req.destroy();
  await until(() => accepted.size === 0, 'the upstream connection to be closed');
  t.same(await gw.upstreamErrors(), {}, 'a client leaving is not an upstream error');
});

t.test('a non-101 answer from the upstream is relayed', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  // the test upstream refuses a handshake without a key
  const { 'sec-websocket-key': _key, ...noKey } = WS_HEADERS;
  const result = await handshake(`${gw.url}/ws`, noKey);
  t.equal(result.kind, 'response');
  t.equal(result.res.statusCode, 400);
});

t.test('other Upgrade protocols are refused with a plain response', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  const other = await handshake(`${gw.url}/x`, { connection: 'Upgrade', upgrade: 'example-protocol' });
  t.equal(other.res.statusCode, 501);
  const post = await handshake(`${gw.url}/x`, WS_HEADERS, 'POST');
  t.equal(post.res.statusCode, 400);
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');
});

t.test('bytes the client sends with the handshake (the head) reach the upstream first', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  const { connect } = await import('node:net');
  const socket = connect(gw.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.on('error', () => {});
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Key: ${String(WS_HEADERS['sec-websocket-key'])}\r\nSec-WebSocket-Version: 13\r\n\r\nearly-bytes`,
  );
  let all = '';
  socket.on('data', (chunk: Buffer) => (all += chunk.toString('latin1')));
  await until(() => all.includes('early-bytes'), 'the echoed head');
  t.match(all, /^HTTP\/1\.1 101 /);
  t.match(all, /\r\n\r\nearly-bytes$/, 'the head was forwarded after the handshake and echoed');
});

t.test('every WebSocket byte relayed, both ways, is counted for the buffer reclaimer', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  let passed = 0;
  const gw = await startGateway(makeRoute(upstream.url), { reclaimer: { passed: (bytes) => (passed += bytes) } });
  t.teardown(() => gw.close());
  const result = await handshake(`${gw.url}/ws`);
  if (result.kind !== 'upgrade') throw new Error('expected an upgrade');
  const socket = result.socket;
  t.teardown(() => socket.destroy());
  t.equal(passed, 0, 'the handshake itself is not body traffic');
  const big = randomBytes(3 * 1024 * 1024 + 17);
  socket.write(big);
  t.ok(big.equals(await readBytes(socket, big.length, Buffer.from(result.head))), 'echoed intact');
  await until(() => passed === 2 * big.length, 'both directions counted');
  t.equal(passed, 2 * big.length, 'to the upstream and back, each chunk once');
});
