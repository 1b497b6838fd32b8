import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the upstream received it. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** header names and values exactly as sent, in order */
  rawHeaders: string[];
  body: string;
  bodyLength: number;
  /** true for a WebSocket upgrade */
  upgrade: boolean;
}

export interface Upstream {
  url: string;
  port: number;
  /** every request received, oldest first (including upgrades) */
  requests: RecordedRequest[];
  /** the last request received */
  last(): RecordedRequest | undefined;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  host?: string;
  port?: number;
  /** extra header lines in the 101 answer to a WebSocket upgrade, e.g. "Set-Cookie: a=b" */
  upgradeHeaders?: string[];
  /** answer some requests yourself; return true when handled */
  handle?: (req: IncomingMessage, res: ServerResponse, record: RecordedRequest) => boolean | Promise<boolean>;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function serveEvents(res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
  res.write('data: hello\n\n');
  const timer = setInterval(() => res.write(': still here\n\n'), 200);
  res.on('close', () => clearInterval(timer));
}

/**
 * A real upstream for tests: answers every request with JSON describing exactly what it got
 * (method, url, headers, body). Query parameters steer it: `__status=NNN` sets the status,
 * `__delay=MS` waits before answering (timeouts), `__set_cookie=a=b` adds a Set-Cookie, `__sse=1`
 * answers with a Server-Sent Events stream that never ends by itself (one event, then a comment
 * every 200 ms).
 * WebSocket upgrades get a hand-written 101 and every byte sent afterwards is echoed back raw,
 * which is enough to prove an upgrade passed through the gateway.
 */
export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const record: RecordedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body: body.toString('utf8'),
          bodyLength: body.length,
          upgrade: false,
        };
        requests.push(record);
        if (options.handle && (await options.handle(req, res, record))) return;
        const query = new URL(record.url, 'http://upstream.invalid').searchParams;
        if (query.has('__sse')) return serveEvents(res);
        const delay = Number(query.get('__delay') ?? 0);
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        if (res.destroyed) return;
        const status = Number(query.get('__status') ?? 200);
        const setCookie = query.get('__set_cookie');
        const payload = JSON.stringify({
          method: record.method,
          url: record.url,
          headers: record.headers,
          body: record.body,
          bodyLength: record.bodyLength,
        });
        res.statusCode = status >= 200 && status <= 599 ? status : 200;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        if (setCookie) res.setHeader('Set-Cookie', setCookie);
        res.end(payload);
      })().catch(() => res.destroy());
    });
  });

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: '',
      bodyLength: 0,
      upgrade: true,
    });
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n` +
        (options.upgradeHeaders ?? []).map((line) => `${line}\r\n`).join('') +
        '\r\n',
    );
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    requests,
    last: () => requests[requests.length - 1],
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
