import { createServer } from 'node:http';
import { serveUntilTerminated } from './serve.js';

/**
 * The upstream every target forwards to, in its own process: a 200 with a ~200-byte JSON body
 * for any request, keep-alive on. `"ok":true` lets the harness check a target reached it.
 */
const body = Buffer.from(JSON.stringify({ ok: true, padding: 'x'.repeat(200 - 25) }));
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
serveUntilTerminated(server);
