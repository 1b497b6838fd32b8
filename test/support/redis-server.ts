import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

/**
 * A real `redis-server` child for one test file: free port, no persistence, loopback only.
 * `stop()` kills it with SIGKILL (an outage); `restart()` starts a fresh, empty one on the same port.
 */
export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** a new client to inspect what Redis holds; closed by `close()` */
  client(): Redis;
  /** kills the server and disconnects every client() */
  close(): Promise<void>;
}

export interface StartRedisOptions {
  port?: number;
  /** extra redis-server arguments, e.g. ['--rename-command', 'CONFIG', ''] */
  args?: string[];
}

/** True when the redis-server answering on `port` is process `pid` (not another test's server). */
function answers(port: number, pid: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let data = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      const id = /process_id:(\d+)/.exec(data);
      if (id) done(Number(id[1]) === pid);
      else if (data.startsWith('-')) done(false);
    });
    socket.once('connect', () => socket.write('INFO server\r\n'));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  if (opts.port === undefined) {
    // two test files may pick the same port at once: the loser's redis-server exits, so try again
    for (let attempt = 0; ; attempt++) {
      try {
        return await startRedisOn(await freePort(), opts);
      } catch (error) {
        if (attempt >= 4 || !String(error).includes('exited at start')) throw error;
      }
    }
  }
  return await startRedisOn(opts.port, opts);
}

async function startRedisOn(port: number, opts: StartRedisOptions): Promise<RedisServer> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--dir', tmpdir(),
    '--loglevel', 'warning',
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | undefined;
  const clients: Redis[] = [];
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const launch = async (): Promise<void> => {
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      if (output.length < 4000) output += chunk.toString();
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    child = proc;
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    await waitFor(async () => {
      if (exited) throw new Error(`redis-server exited at start: ${output.trim()}`);
      return await answers(port, proc.pid ?? -1);
    }, `redis-server on port ${port}`);
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
  };

  try {
    await launch();
  } catch (error) {
    process.removeListener('exit', killOnExit);
    await kill();
    throw error;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    stop: kill,
    async restart() {
      await kill();
      await launch();
    },
    client() {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 50, 500) });
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients.splice(0)) client.disconnect();
      await kill();
      process.removeListener('exit', killOnExit);
    },
  };
}
