import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { startRedis, type RedisServer } from './redis-server.js';

const run = promisify(execFile);

/** A real Redis Cluster of `masters` redis-server children (no replicas) on free ports. */
export interface RedisCluster {
  url: string;
  nodes: RedisServer[];
  close(): Promise<void>;
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const files: string[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.close()));
    await Promise.all(files.map((file) => rm(join(tmpdir(), file), { force: true })));
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const file = `portcullis-test-nodes-${port}.conf`;
      files.push(file);
      nodes.push(await startRedis({ port, args: ['--cluster-enabled', 'yes', '--cluster-config-file', file, '--cluster-node-timeout', '2000'] }));
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 15_000;
    for (const node of nodes) {
      const client = node.client();
      for (;;) {
        const info = String(await client.cluster('INFO'));
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error('the test cluster did not become ready');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`, nodes, close };
}
