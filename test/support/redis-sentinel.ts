import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { startRedis, type RedisServer } from './redis-server.js';

/** A real master plus one `redis-server --sentinel` watching it as `mymaster`. */
export interface RedisSentinel {
  url: string;
  master: RedisServer;
  close(): Promise<void>;
}

export async function startRedisSentinel(masterName = 'mymaster'): Promise<RedisSentinel> {
  const master = await startRedis();
  const port = await freePort();
  const file = join(tmpdir(), `portcullis-test-sentinel-${port}.conf`);
  await writeFile(file, [`port ${port}`, 'bind 127.0.0.1', `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`, ''].join('\n'));
  const child: ChildProcess = spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' });
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', kill);
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      kill();
      await exited;
    }
    process.removeListener('exit', kill);
    await master.close();
    await rm(file, { force: true });
  };
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  probe.on('error', () => undefined);
  try {
    const deadline = Date.now() + 10_000;
    await probe.connect().catch(() => undefined);
    for (;;) {
      const reply = await probe.call('SENTINEL', 'get-master-addr-by-name', masterName).catch(() => null);
      if (Array.isArray(reply) && reply[1] === String(master.port)) break;
      if (Date.now() > deadline) throw new Error('the test sentinel did not come up');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await close();
    throw error;
  } finally {
    probe.disconnect();
  }
  return { url: `redis+sentinel://127.0.0.1:${port}/${masterName}/0`, master, close };
}
