import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/redis-url.js';
import { withTimeout } from '../lib/settle.js';

/** One server connection (a master, or a subscriber): the other modules name it by this type. */
export type RedisConnection = Redis;

/** true for a Cluster client (slots, per-master subscribers) */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return client instanceof Cluster;
}

/**
 * The one place that builds ioredis clients. Commands fail fast while Redis is unreachable
 * (no offline queue, no retries of in-flight commands, a command timeout) and ioredis
 * reconnects by itself with a capped backoff; the store decides what an outage means.
 */
export interface RedisBackend {
  target: RedisTarget;
  /** the database number, for keyspace channels (`__keyspace@<db>__:`) */
  db: number;
  client: Redis | Cluster;
  isReady(): boolean;
  /** the nodes whose notify-keyspace-events matter: the master, or every cluster master */
  masters(): Redis[];
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  /** every key matching `pattern`, in SCAN pages, across every master (each walked on a connection of its own) */
  scan(pattern: string, count: number): AsyncGenerator<string[]>;
  /** a fresh connection for PSUBSCRIBE: to `node` (a cluster master) or to the master */
  createSubscriber(node?: Redis): Redis;
  close(): Promise<void>;
}

export interface BackendOptions {
  /** longest pause between reconnect attempts */
  maxBackoffMs?: number;
  commandTimeoutMs?: number;
}

const MGET_PAGE = 1000;
/** longer than one connect attempt (connectTimeout) plus a Sentinel lookup */
const SCAN_CONNECT_DEADLINE_MS = 10_000;

export function backoff(maxMs: number): (times: number) => number {
  return (times) => Math.min(50 * 2 ** Math.min(times, 10), maxMs);
}

async function quit(client: Redis | Cluster): Promise<void> {
  if (client.status === 'end') return;
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}

export function createRedisBackend(target: RedisTarget, options: BackendOptions = {}): RedisBackend {
  const retryStrategy = backoff(options.maxBackoffMs ?? 2000);
  const auth = {
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(target.tls ? { tls: {} } : {}),
  };
  const base: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    connectTimeout: 5000,
    keepAlive: 10_000,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    // one fewer command to grant in ACLs (CLIENT SETINFO, Redis 7.2+)
    disableClientInfo: true,
    ...auth,
  };

  let client: Redis | Cluster;
  let subscriberOptions: (node?: Redis) => RedisOptions;
  const db = target.mode === 'cluster' ? 0 : target.db;
  if (target.mode === 'cluster') {
    const clusterOptions: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      scaleReads: 'master',
      clusterRetryStrategy: retryStrategy,
      redisOptions: { ...base, connectionName: 'portcullis' },
    };
    client = new Cluster(target.nodes, clusterOptions);
    subscriberOptions = (node) => ({
      ...base,
      retryStrategy,
      host: node?.options.host ?? target.nodes[0]!.host,
      port: node?.options.port ?? target.nodes[0]!.port,
    });
  } else {
    const where: RedisOptions =
      target.mode === 'standalone'
        ? { host: target.host, port: target.port, db: target.db }
        : {
            sentinels: target.sentinels,
            name: target.masterName,
            db: target.db,
            ...(target.sentinelPassword === undefined ? {} : { sentinelPassword: target.sentinelPassword }),
            ...(target.tls ? { enableTLSForSentinelMode: true } : {}),
            sentinelRetryStrategy: retryStrategy,
          };
    client = new Redis({ ...base, ...where, retryStrategy, connectionName: 'portcullis' });
    subscriberOptions = () => ({ ...base, ...where, retryStrategy });
  }

  /** connections of SCAN walks in progress: closed with the backend */
  const scanning = new Set<Redis>();
  const masters = (): Redis[] => (client instanceof Cluster ? client.nodes('master') : [client]);

  return {
    target,
    db,
    client,
    isReady: () => client.status === 'ready',
    masters,
    async getMany(keys) {
      if (keys.length === 0) return [];
      if (client instanceof Cluster) {
        // auto-pipelining groups these per node; a Cluster pipeline must stay on one node
        return await Promise.all(keys.map((key) => client.get(key)));
      }
      // one MGET per page: far cheaper for the client than a pipeline of GETs
      const values: (string | null)[] = [];
      for (let i = 0; i < keys.length; i += MGET_PAGE) values.push(...(await client.mget(keys.slice(i, i + MGET_PAGE))));
      return values;
    },
    async *scan(pattern, count) {
      for (const master of masters()) {
        // its own connection: each SCAN reply would otherwise queue behind the reads of the
        // previous page on the shared one, and the walk (strictly one call after another) with
        // it. One attempt, no reconnects (a Sentinel lookup would otherwise retry forever): a
        // failure fails this walk, and the store's recovery starts another.
        const node = master.duplicate({ connectionName: 'portcullis-scan', retryStrategy: () => null, sentinelRetryStrategy: () => null });
        node.on('error', () => undefined); // a failure rejects the SCAN in flight; that is what counts
        scanning.add(node);
        try {
          await withTimeout(node.connect(), SCAN_CONNECT_DEADLINE_MS, 'the SCAN connection did not come up');
          let cursor = '0';
          do {
            const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
            cursor = next;
            if (keys.length > 0) yield keys;
          } while (cursor !== '0');
        } finally {
          scanning.delete(node);
          node.disconnect();
        }
      }
    },
    createSubscriber(node) {
      return new Redis({ ...subscriberOptions(node), connectionName: 'portcullis-sub' });
    },
    async close() {
      for (const node of scanning) node.disconnect();
      scanning.clear();
      await quit(client);
    },
  };
}

