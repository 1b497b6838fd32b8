import { createServer } from 'node:net';

/**
 * A port that was free a moment ago (bind to 0, read it, release it). Prefer listening on port 0
 * directly; this is for the cases that need a port number before the server exists (an IdP that
 * must know its issuer URL, a config file written before the gateway starts, a restart on the
 * same port).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
