import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { GatewayError } from '../../src/errors.js';
import type { BufferReclaimer } from '../../src/lib/buffer-reclaimer.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createForwarder } from '../../src/proxy/forward.js';
import { buildUpstreamHeaders, identityValues } from '../../src/proxy/headers.js';
import type { CompiledRoute } from '../../src/routes/types.js';

/**
 * A minimal gateway for forward tests: no sessions or policy, just the real forwarder and header
 * builder in a node:http server, recording how each forward() settled.
 */
export interface TestGateway {
  url: string;
  port: number;
  metrics: Metrics;
  /** one entry per forward() call, in completion order: 'ok' or the rejection */
  outcomes: Array<'ok' | unknown>;
  upstreamErrors(): Promise<Record<string, number>>;
  /** closes only the forwarder (as shutdown does after the server drained), leaving the server up */
  closeForwarder(): Promise<void>;
  close(): Promise<void>;
}

export function makeRoute(to: string, overrides: Partial<CompiledRoute> = {}): CompiledRoute {
  const url = new URL(to);
  return {
    index: 0,
    id: 'http://127.0.0.1/test',
    scheme: 'http',
    host: '127.0.0.1',
    wildcard: false,
    port: 80,
    pathPrefix: '',
    to: url,
    basePath: url.pathname.replace(/\/$/, ''),
    audience: url.origin,
    public: true,
    preserveHost: false,
    stripPrefix: false,
    timeoutMs: 5_000,
    websockets: true,
    bearerTokens: false,
    ...overrides,
  };
}

export async function startGateway(
  route: CompiledRoute,
  options: { identity?: { user: string; email?: string; groups: string[] }; setCookie?: string; reclaimer?: BufferReclaimer } = {},
): Promise<TestGateway> {
  const metrics = createMetrics({ defaultMetrics: false });
  const forwarder = createForwarder({
    logger: createLogger({ level: 'silent' }),
    metrics,
    ...(options.reclaimer ? { reclaimer: options.reclaimer } : {}),
  });
  const outcomes: TestGateway['outcomes'] = [];
  const sockets = new Set<Socket>();

  const headersFor = (req: IncomingMessage) =>
    buildUpstreamHeaders(req, {
      cookieName: '_portcullis',
      identity: options.identity ? identityValues({ sub: options.identity.user, email: options.identity.email, groups: options.identity.groups }) : undefined,
      clientIp: req.socket.remoteAddress ?? '',
      proto: 'http',
      host: req.headers.host ?? '',
      preserveHost: route.preserveHost,
      upstreamHost: route.to.host,
      trustForwarded: false,
      requestId: 'test-request-id',
    });
  const pathFor = (req: IncomingMessage) => `${route.to.pathname.replace(/\/$/, '')}${req.url ?? '/'}`;

  const server = createServer((req, res) => {
    if (options.setCookie) res.appendHeader('Set-Cookie', options.setCookie);
    forwarder.forward(req, res, { route, path: pathFor(req), headers: headersFor(req) }).then(
      () => outcomes.push('ok'),
      (error: unknown) => {
        outcomes.push(error);
        if (res.headersSent) return res.destroy();
        const status = error instanceof GatewayError ? error.status : 500;
        const code = error instanceof GatewayError ? error.code : 'NOT_A_GATEWAY_ERROR';
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code }));
      },
    );
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    forwarder.upgrade(req, socket, head, { route, path: pathFor(req), headers: headersFor(req) });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    metrics,
    outcomes,
    async upstreamErrors() {
      const out: Record<string, number> = {};
      for (const v of (await metrics.upstreamErrors.get()).values) out[String(v.labels.kind)] = v.value;
      return out;
    },
    closeForwarder: () => forwarder.close(),
    async close() {
      await forwarder.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface SimpleResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A plain node:http client call that reads the whole response. */
export function fetchRaw(
  url: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Polls `check` until it returns true or the deadline passes. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
