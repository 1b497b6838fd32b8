import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'expect']);

function copyHeaders(headers: IncomingMessage['headers'] | Record<string, string | string[] | undefined>) {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP.has(name)) out[name] = value;
  }
  return out;
}

/**
 * The baseline: the least a node:http + undici reverse proxy must do (copy headers minus
 * hop-by-hop, stream both ways), with none of the gateway's work. The gateway is measured
 * against this, in the same process, on the same machine, at the same time.
 */
export async function startBaselineProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const origin = new URL(upstream).origin;
  const agent = new Agent({ connections: 128, keepAliveTimeout: 4_000 });
  const server: Server = createServer((req, res) => {
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    agent
      .stream(
        {
          origin,
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: copyHeaders(req.headers),
          body: hasBody ? req : undefined,
        },
        ({ statusCode, headers }): Writable => {
          res.writeHead(statusCode, copyHeaders(headers));
          return res;
        },
      )
      .catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await agent.close();
    },
  };
}
