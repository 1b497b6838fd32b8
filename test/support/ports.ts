import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/**
 * Ports for servers that must know their number before they exist (an IdP that must know its
 * issuer URL, a config file written before the gateway starts, a restart on the same port).
 * Prefer listening on port 0 directly.
 *
 * A port handed out here is released before its server binds it. Ports from listen(0) come from
 * the kernel's ephemeral range, which outgoing connections and every other listen(0) in parallel
 * test files draw from too: one of them can take the port in that gap (CI saw EADDRINUSE that
 * way). So these are picked below the ephemeral range, where neither ever lands, and checked
 * by binding them.
 */
const LOWEST = 20_000;

function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function tryBind(port: number, host: string): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

async function holdPort(host: string, taken: Set<number>): Promise<Server> {
  const top = ephemeralStart();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    if (taken.has(port)) continue;
    taken.add(port);
    const server = await tryBind(port, host);
    if (server) return server;
  }
  throw new Error(`no free port below ${top} on ${host}`);
}

/** A port that was free a moment ago and that no listen(0) or outgoing connection will take. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port!;
}

/** `count` distinct such ports; all are held until every one is known, then released. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  const taken = new Set<number>();
  try {
    for (let i = 0; i < count; i++) servers.push(await holdPort(host, taken));
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}
