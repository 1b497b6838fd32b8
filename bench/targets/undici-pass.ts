import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { HOP_BY_HOP, serveUntilTerminated } from './serve.js';

/**
 * The floor for a Node proxy: node:http in, undici `Pool.dispatch` out with a handler object
 * (no promise, no stream wrapper), hop-by-hop headers dropped, backpressure both ways.
 */
const pool = new Pool(process.argv[2]!, { connections: 128, keepAliveTimeout: 60_000 });

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name) && headers[name] !== undefined) out[name] = headers[name]!;
  return out;
}

const server = createServer((req, res) => {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.dispatch(
    { path: req.url ?? '/', method: req.method ?? 'GET', headers: endToEnd(req.headers), body: hasBody ? req : null },
    {
      onRequestStart(controller) {
        res.once('close', () => {
          if (!res.writableFinished) controller.abort(new Error('client went away'));
        });
      },
      onResponseStart(controller, statusCode, headers) {
        res.writeHead(statusCode, endToEnd(headers));
        res.on('drain', () => controller.resume());
      },
      onResponseData(controller, chunk) {
        if (!res.write(chunk)) controller.pause();
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError(_controller, _error) {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      },
    },
  );
});
serveUntilTerminated(server, () => pool.close());
