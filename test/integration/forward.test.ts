import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import t from 'tap';
import { GatewayError } from '../../src/errors.js';
import { createBufferReclaimer } from '../../src/lib/buffer-reclaimer.js';
import { startUpstream } from '../support/upstream.js';
import { freePort } from '../support/ports.js';
import { fetchRaw, makeRoute, startGateway, until } from './forward-harness.js';

const MB = 1024 * 1024;
const BIG = 20 * MB;
const CHUNK = Buffer.alloc(64 * 1024, 'portcullis-');

/**
 * An upstream that works on bodies as streams, so tests can see bytes arrive before the other
 * side has finished sending them, and can misbehave on purpose.
 */
async function startStreamingUpstream() {
  const state = {
    uploadReceived: 0,
    events: [] as string[],
    releaseDownload: () => {},
  };
  const gate = new Promise<void>((resolve) => (state.releaseDownload = resolve));
  const sockets = new Set<Socket>();

  async function writeBytes(res: ServerResponse, total: number): Promise<void> {
    let sent = 0;
    while (sent < total && !res.destroyed) {
      const piece = CHUNK.subarray(0, Math.min(CHUNK.length, total - sent));
      sent += piece.length;
      if (!res.write(piece)) await new Promise((resolve) => res.once('drain', resolve));
    }
  }

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>> = {
    '/upload': (req, res) => {
      const hash = createHash('sha256');
      let length = 0;
      req.on('data', (chunk: Buffer) => {
        length += chunk.length;
        state.uploadReceived = length;
        hash.update(chunk);
      });
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ length, sha256: hash.digest('hex') }));
      });
    },
    '/download': async (_req, res, url) => {
      const total = Number(url.searchParams.get('bytes'));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      await writeBytes(res, MB);
      if (url.searchParams.get('gate')) await gate;
      await writeBytes(res, total - MB);
      res.end();
    },
    '/hold': (req, res) => {
      req.resume();
      res.on('close', () => state.events.push('hold:closed'));
    },
    '/upload-hold': (req, res) => {
      req.on('data', (chunk: Buffer) => (state.uploadReceived += chunk.length));
      res.on('close', () => state.events.push('upload-hold:closed'));
    },
    '/forever': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('tick\n'), 5);
      res.on('close', () => {
        clearInterval(timer);
        state.events.push('forever:closed');
      });
    },
    '/break': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' });
      res.write('partial body', () => setTimeout(() => res.socket?.destroy(), 20));
    },
    '/port': (req, res) => {
      res.end(String(req.socket.remotePort));
    },
    '/hop': (_req, res) => {
      res.writeHead(418, {
        connection: 'keep-alive, x-upstream-hop',
        'keep-alive': 'timeout=5',
        'x-upstream-hop': 'secret-hop',
        trailer: 'x-sum',
        'proxy-authenticate': 'Basic',
        'x-app': 'kept',
        'set-cookie': ['app=1; Path=/', 'theme=dark; Path=/'],
        'content-type': 'text/plain',
      });
      res.end('teapot');
    },
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream.invalid');
    const handler = routes[url.pathname];
    if (!handler) return void res.writeHead(404).end();
    Promise.resolve(handler(req, res, url)).catch(() => res.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    async close() {
      state.releaseDownload();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

t.test('GET: what the upstream receives and what the client gets back', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(`${upstream.url}/base`), {
    identity: { user: 'alice', email: 'alice@example.com', groups: ['eng', 'ops'] },
  });
  t.teardown(() => gw.close());

  const res = await fetchRaw(`${gw.url}/hello?x=1&__set_cookie=app%3D1`, {
    headers: {
      cookie: 'theme=dark; _portcullis=SESSION; lang=en',
      'x-portcullis-user': 'admin',
      'X-Portcullis-Groups': 'admins',
      'x-forwarded-for': '6.6.6.6',
      accept: 'application/json',
      connection: 'keep-alive, x-hop',
      'x-hop': 'hop',
    },
  });
  t.equal(res.status, 200);
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8', 'response headers copied');
  t.same(res.headers['set-cookie'], ['app=1'], 'upstream Set-Cookie reaches the client');
  const got = upstream.last()!;
  t.equal(got.url, '/base/hello?x=1&__set_cookie=app%3D1', 'route path joined, query kept');
  t.equal(got.headers.cookie, 'theme=dark; lang=en', 'only the gateway cookie removed');
  t.equal(got.headers['x-portcullis-user'], 'alice');
  t.equal(got.headers['x-portcullis-email'], 'alice@example.com');
  t.equal(got.headers['x-portcullis-groups'], 'eng,ops');
  t.equal(got.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted client cannot seed X-Forwarded-For');
  t.equal(got.headers['x-forwarded-proto'], 'http');
  t.equal(got.headers['x-forwarded-host'], `127.0.0.1:${gw.port}`);
  t.equal(got.headers['x-request-id'], 'test-request-id');
  t.equal(got.headers.host, new URL(upstream.url).host, 'Host is the upstream host');
  t.notOk(got.headers['x-hop'], 'header named in Connection dropped');
  t.equal(got.headers.accept, 'application/json');
});

t.test('preserve_host sends the original Host', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url, { preserveHost: true }));
  t.teardown(() => gw.close());
  await fetchRaw(`${gw.url}/`, { headers: { host: 'app.example.com' } });
  t.equal(upstream.last()!.headers.host, 'app.example.com');
});

t.test('response status copied, hop-by-hop dropped, session cookie merged with the app’s', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url), { setCookie: '_portcullis=renewed; Path=/; HttpOnly' });
  t.teardown(() => gw.close());
  const res = await fetchRaw(`${gw.url}/hop`);
  t.equal(res.status, 418);
  t.equal(res.body.toString(), 'teapot');
  t.equal(res.headers['x-app'], 'kept');
  t.notOk(res.headers['x-upstream-hop'], 'header the upstream named in Connection dropped');
  t.notOk(res.headers['keep-alive'] === 'timeout=5', 'upstream Keep-Alive not copied');
  t.notOk(res.headers.trailer);
  t.notOk(res.headers['proxy-authenticate']);
  t.same(res.headers['set-cookie'], ['_portcullis=renewed; Path=/; HttpOnly', 'app=1; Path=/', 'theme=dark; Path=/']);
});

t.test('a 20 MB upload streams to the upstream before the client has finished', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());

  const expected = createHash('sha256');
  const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      `${gw.url}/upload`,
      { method: 'POST', headers: { 'content-length': String(BIG), 'content-type': 'application/octet-stream' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    void (async () => {
      let sent = 0;
      const send = async (upTo: number) => {
        while (sent < upTo) {
          const piece = CHUNK.subarray(0, Math.min(CHUNK.length, upTo - sent));
          expected.update(piece);
          sent += piece.length;
          if (!req.write(piece)) await new Promise((resolve) => req.once('drain', resolve));
        }
      };
      await send(MB);
      // the upstream sees the first megabyte while 19 MB are still unsent: nothing buffers the body
      await until(() => upstream.state.uploadReceived > 0, 'the upstream to receive the first bytes');
      t.ok(upstream.state.uploadReceived < BIG, 'upstream received bytes mid-upload');
      await send(BIG);
      req.end();
    })().catch(reject);
  });
  t.equal(result.status, 200);
  t.same(JSON.parse(result.body), { length: BIG, sha256: expected.digest('hex') });
});

t.test('a chunked upload (no Content-Length) arrives whole', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  const body = Buffer.concat([CHUNK, CHUNK, Buffer.from('tail')]);
  const res = await fetchRaw(`${gw.url}/upload`, { method: 'PUT', headers: { 'transfer-encoding': 'chunked' }, body });
  t.equal(res.status, 200);
  t.same(JSON.parse(res.body.toString()), { length: body.length, sha256: createHash('sha256').update(body).digest('hex') });
});

t.test('a 20 MB download streams to the client before the upstream has finished', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  const expected = createHash('sha256');
  for (let sent = 0; sent < BIG; sent += CHUNK.length) expected.update(CHUNK.subarray(0, Math.min(CHUNK.length, BIG - sent)));
  const got = createHash('sha256');
  let received = 0;
  const done = new Promise<number>((resolve, reject) => {
    const req = request(`${gw.url}/download?bytes=${BIG}&gate=1`, (res) => {
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        got.update(chunk);
      });
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  // the upstream holds the remaining 19 MB until released: the client must already have the first one
  await until(() => received >= MB, 'the first megabyte at the client');
  t.equal(received, MB, 'exactly what the upstream has sent so far');
  upstream.state.releaseDownload();
  t.equal(await done, 200);
  t.equal(received, BIG);
  t.equal(got.digest('hex'), expected.digest('hex'));
});

t.test('every body byte handed on, both ways, is counted for the buffer reclaimer', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  let passed = 0;
  let collections = 0;
  const reclaimer = createBufferReclaimer({ everyBytes: 4 * MB, collect: () => collections++ });
  const gw = await startGateway(makeRoute(upstream.url), { reclaimer: { passed: (bytes) => ((passed += bytes), reclaimer.passed(bytes)) } });
  t.teardown(() => gw.close());
  const body = Buffer.alloc(BIG, 7);
  const up = await fetchRaw(`${gw.url}/upload`, { method: 'POST', body });
  t.equal(up.status, 200);
  t.equal(passed, BIG + up.body.length, 'the upload, chunk by chunk (and its answer)');
  upstream.state.releaseDownload();
  const down = await fetchRaw(`${gw.url}/download?bytes=${BIG}`);
  t.equal(down.body.length, BIG);
  t.equal(passed, BIG + BIG + up.body.length, 'and the responses');
  // a chunk that crosses the threshold is not carried over: at most one chunk (64 KB) short each time
  const most = Math.floor(passed / (4 * MB));
  t.ok(collections <= most && collections >= Math.floor(passed / (4 * MB + 64 * 1024)), `a collection per 4 MB passed: ${collections}`);
});

t.test('no response within the route timeout: 504, counted', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url, { timeoutMs: 150 }));
  t.teardown(() => gw.close());
  const res = await fetchRaw(`${gw.url}/hold`);
  t.equal(res.status, 504);
  t.same(JSON.parse(res.body.toString()), { code: 'GW_UPSTREAM_TIMEOUT' });
  const error = gw.outcomes[0];
  t.ok(error instanceof GatewayError && error.code === 'GW_UPSTREAM_TIMEOUT', 'forward() threw the timeout');
  t.same(await gw.upstreamErrors(), { timeout: 1 });
});

t.test('upstream down: 502 for GET and for a POST with a body, counted', async (t) => {
  const port = await freePort();
  const gw = await startGateway(makeRoute(`http://127.0.0.1:${port}`));
  t.teardown(() => gw.close());
  const get = await fetchRaw(`${gw.url}/anything`);
  t.equal(get.status, 502);
  t.same(JSON.parse(get.body.toString()), { code: 'GW_UPSTREAM_UNREACHABLE' });
  const post = await fetchRaw(`${gw.url}/form`, { method: 'POST', body: Buffer.alloc(256 * 1024, 'x') });
  t.equal(post.status, 502, 'the client still gets an answer after its body was refused');
  t.same(await gw.upstreamErrors(), { connect: 2 });
});

t.test('unresolvable upstream host: 502', async (t) => {
  const gw = await startGateway(makeRoute('http://portcullis-upstream.invalid:9'));
  t.teardown(() => gw.close());
  const res = await fetchRaw(`${gw.url}/`);
  t.equal(res.status, 502);
  t.same(await gw.upstreamErrors(), { connect: 1 });
});

t.test('a client that leaves before the response aborts the upstream request', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  const req = request(`${gw.url}/hold`);
  req.on('error', () => {});
  req.end();
  await until(() => upstream.state.events.length === 0 && gw.outcomes.length === 0, 'request in flight');
  await new Promise((resolve) => setTimeout(resolve, 50)); // let it reach the upstream
  req.destroy();
  await until(() => upstream.state.events.includes('hold:closed'), 'the upstream request to be aborted');
  await until(() => gw.outcomes.length === 1, 'forward() to settle');
  t.equal(gw.outcomes[0], 'ok', 'a client abort is not an error');
  t.same(await gw.upstreamErrors(), {}, 'and not an upstream error');
});

t.test('a client that leaves mid-upload aborts the upstream request', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  const req = request(`${gw.url}/upload-hold`, { method: 'POST', headers: { 'content-length': String(BIG) } });
  req.on('error', () => {});
  req.write(CHUNK);
  await until(() => upstream.state.uploadReceived > 0, 'upload started');
  req.destroy();
  await until(() => upstream.state.events.includes('upload-hold:closed'), 'the upstream request to be aborted');
  await until(() => gw.outcomes.length === 1, 'forward() to settle');
  t.equal(gw.outcomes[0], 'ok');
});

t.test('a client that leaves mid-response aborts the upstream stream', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  await new Promise<void>((resolve, reject) => {
    const req = request(`${gw.url}/forever`, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.on('response', (res) => res.on('error', () => {}));
    req.once('error', reject);
    req.end();
  });
  await until(() => upstream.state.events.includes('forever:closed'), 'the upstream response to be abandoned');
  await until(() => gw.outcomes.length === 1, 'forward() to settle');
  t.equal(gw.outcomes[0], 'ok');
});

t.test('an upstream that fails mid-body ends the client response, no error thrown', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  const failure = await new Promise<{ status: number; error: string }>((resolve) => {
    const req = request(`${gw.url}/break`, (res) => {
      res.on('data', () => {});
      res.on('error', (error) => resolve({ status: res.statusCode ?? 0, error: error.message }));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: 'ended cleanly' }));
    });
    req.on('error', (error) => resolve({ status: 0, error: error.message }));
    req.end();
  });
  t.equal(failure.status, 200, 'headers had been sent');
  t.not(failure.error, 'ended cleanly', 'the truncated body is not passed off as complete');
  await until(() => gw.outcomes.length === 1, 'forward() to settle');
  t.equal(gw.outcomes[0], 'ok', 'nothing left to render, so forward() does not throw');
  t.same(await gw.upstreamErrors(), { reset: 1 });
});

t.test('keep-alive: sequential requests reuse one upstream connection', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  const ports = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const res = await fetchRaw(`${gw.url}/port`);
    t.equal(res.status, 200);
    ports.add(res.body.toString());
  }
  t.equal(ports.size, 1, 'one upstream connection served all five');
});

t.test('a request that reaches a closed forwarder is a 502, and nothing reaches the upstream', async (t) => {
  const upstream = await startStreamingUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());
  t.equal((await fetchRaw(`${gw.url}/port`)).status, 200, 'served while open');
  await gw.closeForwarder();
  const res = await fetchRaw(`${gw.url}/upload`, { method: 'POST', body: 'late' });
  t.equal(res.status, 502);
  t.equal(JSON.parse(res.body.toString()).code, 'GW_UPSTREAM_UNREACHABLE');
  t.equal(upstream.state.uploadReceived, 0, 'the upstream never saw the request');
});

t.test('HEAD and Expect: 100-continue pass through', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const gw = await startGateway(makeRoute(upstream.url));
  t.teardown(() => gw.close());

  const head = await fetchRaw(`${gw.url}/head`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.body.length, 0);
  t.equal(upstream.last()!.method, 'HEAD');

  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${gw.url}/expect`, {
      method: 'POST',
      headers: { expect: '100-continue', 'content-length': '5' },
      agent: false,
    });
    req.on('continue', () => req.end('hello'));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  t.equal(answer.status, 200);
  t.equal(JSON.parse(answer.body).body, 'hello');
  t.notOk(upstream.last()!.headers.expect, 'node:http answered the 100 itself; Expect is not forwarded');
});
