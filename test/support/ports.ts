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
 *
 * Two more gaps are closed: test files that run at once (tap's jobs) pick from separate slices of
 * that range, by their TAP_JOB_ID, so two files never pick the same port in the same instant (CI
 * once saw a gateway child's admin port answered by another file's server); and a port is handed
 * out once per process, so two calls in one file never get the same port either.
 */
const LOWEST = 20_000;
const SLICES = 4;
/** ports this process has handed out: not again, until the slice runs low */
const handedOut = new Set<number>();

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

/** A tap job slot's slice of [LOWEST, ephemeral start); by default this test process's. */
export function portSlice(job = Number(process.env['TAP_JOB_ID'])): { low: number; size: number } {
  const size = Math.floor((ephemeralStart() - LOWEST) / SLICES);
  return { low: LOWEST + (Number.isInteger(job) && job >= 0 ? job % SLICES : 0) * size, size };
}

async function holdPort(host: string, taken: Set<number>): Promise<Server> {
  const { low, size } = portSlice();
  if (handedOut.size > size / 2) handedOut.clear();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * size);
    if (taken.has(port) || handedOut.has(port)) continue;
    taken.add(port);
    const server = await tryBind(port, host);
    if (server) {
      handedOut.add(port);
      return server;
    }
  }
  throw new Error(`no free port in ${low}–${low + size - 1} on ${host}`);
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
