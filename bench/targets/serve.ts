import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Every bench child process listens on a free loopback port, announces `{"url": …}` on its first
 * stdout line, and closes on SIGTERM.
 */
export function serveUntilTerminated(server: Server, onClose: () => Promise<void> = async () => undefined): void {
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
  });
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => {
      onClose().finally(() => process.exit(0));
    });
  });
}

/** Connection-scoped headers a proxy must not forward (RFC 9110 §7.6.1). */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect', 'host']);
