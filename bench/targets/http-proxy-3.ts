import { Agent, createServer } from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { serveUntilTerminated } from './serve.js';

/**
 * Bare http-proxy-3 in front of the upstream (argv[2]) with a keep-alive agent: the forwarding
 * the gateway used before undici dispatch, with none of the gateway's work.
 */
const target = process.argv[2]!;
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = createProxyServer({ target, agent });
proxy.on('error', (_error, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
  else res.destroy();
});
serveUntilTerminated(
  createServer((req, res) => proxy.web(req, res)),
  async () => agent.destroy(),
);
