import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '../src/errors.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { createForwarder } from '../src/proxy/forward.js';
import { buildUpstreamHeaders } from '../src/proxy/headers.js';
import type { CompiledRoute } from '../src/routes/types.js';

/**
 * src/proxy alone (header hygiene with an identity + the forwarder), without routing, sessions or
 * the server's per-request context: splits the gateway's overhead into "proxying" and "the rest".
 */
export async function startForwarderProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(upstream);
  const route: CompiledRoute = {
    index: 0,
    id: 'bench',
    scheme: 'http',
    host: '127.0.0.1',
    wildcard: false,
    port: 0,
    pathPrefix: '',
    to,
    basePath: '',
    audience: to.origin,
    public: true,
    preserveHost: false,
    stripPrefix: false,
    timeoutMs: 30_000,
    websockets: false,
  };
  const forwarder = createForwarder({ logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) });
  const identity = { user: 'bench-user', email: 'bench@example.com', groups: ['eng', 'ops'] };
  const server: Server = createServer((req, res) => {
    const headers = buildUpstreamHeaders(req, {
      cookieName: '_portcullis',
      identity,
      clientIp: req.socket.remoteAddress ?? '',
      proto: 'http',
      host: req.headers.host ?? '',
      preserveHost: false,
      upstreamHost: to.host,
      trustForwarded: false,
      requestId: 'bench',
    });
    forwarder.forward(req, res, { route, path: req.url ?? '/', headers }).catch((error: unknown) => {
      const status = error instanceof GatewayError ? error.status : 500;
      if (!res.headersSent) res.writeHead(status).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await forwarder.close();
    },
  };
}
