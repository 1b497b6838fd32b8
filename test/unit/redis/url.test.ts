import { Cluster, Redis } from 'ioredis';
import t from 'tap';
import { ConfigError } from '../../../src/errors.js';
import { createRedisBackend } from '../../../src/redis/connection.js';
import { describeTarget, parseRedisUrl } from '../../../src/config/redis-url.js';

t.test('standalone URLs', async (t) => {
  t.same(parseRedisUrl('redis://127.0.0.1:6380/2'), { mode: 'standalone', host: '127.0.0.1', port: 6380, db: 2, tls: false });
  t.same(parseRedisUrl('redis://localhost'), { mode: 'standalone', host: 'localhost', port: 6379, db: 0, tls: false });
  t.same(parseRedisUrl('rediss://user:p%40ss@cache.example.com:6390/0'), {
    mode: 'standalone', host: 'cache.example.com', port: 6390, db: 0, username: 'user', password: 'p@ss', tls: true,
  });
  t.same(parseRedisUrl('redis://:only-pass@h'), { mode: 'standalone', host: 'h', port: 6379, db: 0, password: 'only-pass', tls: false });
  t.same(parseRedisUrl('redis://[::1]:7000'), { mode: 'standalone', host: '::1', port: 7000, db: 0, tls: false });
});

t.test('sentinel URLs', async (t) => {
  t.same(parseRedisUrl('redis+sentinel://s1:26379,s2:26380,s3/mymaster/3'), {
    mode: 'sentinel',
    sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }, { host: 's3', port: 26379 }],
    masterName: 'mymaster', db: 3, tls: false,
  });
  t.same(parseRedisUrl('rediss+sentinel://u:pw@s1:1/m?sentinel_password=sp'), {
    mode: 'sentinel', sentinels: [{ host: 's1', port: 1 }], masterName: 'm', db: 0, username: 'u', password: 'pw', tls: true, sentinelPassword: 'sp',
  });
});

t.test('cluster URLs', async (t) => {
  t.same(parseRedisUrl('redis+cluster://n1:7000,n2:7001'), { mode: 'cluster', nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }], tls: false });
  t.same(parseRedisUrl('redis+cluster://n1:7000/0').mode, 'cluster');
});

t.test('bad URLs are config errors naming the key, without the password', async (t) => {
  for (const url of [
    'http://h:6379',
    'not a url',
    'redis://h:6379/x',
    'redis://h/1/2',
    'redis+sentinel://s1:1',
    'redis+sentinel://s1:1/m/x',
    'redis+cluster://n1:7000/1',
    'redis+cluster://n1:99999',
    'redis+sentinel://u:hunter2@s1:bad/m',
  ]) {
    try {
      parseRedisUrl(url);
      t.fail(`accepted ${url}`);
    } catch (error) {
      t.type(error, ConfigError, url);
      t.equal((error as ConfigError).issues[0]?.path, 'session.redis.url');
      t.notOk((error as Error).message.includes('hunter2'), 'no password in the message');
    }
  }
});

t.test('describeTarget never shows credentials', async (t) => {
  t.equal(describeTarget(parseRedisUrl('redis://u:secret@h:1/2')), 'redis://h:1/2');
  t.equal(describeTarget(parseRedisUrl('rediss+sentinel://u:secret@a:1,b:2/m/1')), 'rediss+sentinel://a:1,b:2/m/1');
  t.equal(describeTarget(parseRedisUrl('redis+cluster://:secret@a:1,b:2')), 'redis+cluster://a:1,b:2');
});

t.test('clients are built for each mode without connecting', async (t) => {
  const standalone = createRedisBackend(parseRedisUrl('redis://u:pw@127.0.0.1:6390/4'));
  t.ok(standalone.client instanceof Redis);
  t.equal(standalone.db, 4);
  t.match((standalone.client as { options: object }).options, { host: '127.0.0.1', port: 6390, db: 4, username: 'u', password: 'pw', enableOfflineQueue: false, lazyConnect: true });

  const sentinel = createRedisBackend(parseRedisUrl('rediss+sentinel://s1:26379,s2:26380/mymaster/1?sentinel_password=sp'));
  t.ok(sentinel.client instanceof Redis);
  t.match((sentinel.client as { options: object }).options, {
    sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }],
    name: 'mymaster', db: 1, sentinelPassword: 'sp', enableTLSForSentinelMode: true, tls: {},
  });
  const sentinelSub = sentinel.createSubscriber();
  t.match(sentinelSub.options, { name: 'mymaster', sentinels: [{ host: 's1' }, { host: 's2' }], autoResubscribe: false });
  sentinelSub.disconnect();

  const cluster = createRedisBackend(parseRedisUrl('redis+cluster://:pw@n1:7000,n2:7001'));
  t.ok(cluster.client instanceof Cluster);
  t.equal(cluster.db, 0);
  t.match((cluster.client as unknown as { startupNodes: unknown; options: object }).startupNodes, [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }]);
  t.match((cluster.client as unknown as { options: object }).options, { enableOfflineQueue: false, enableAutoPipelining: true, redisOptions: { password: 'pw' } });
  const clusterSub = cluster.createSubscriber();
  t.match(clusterSub.options, { host: 'n1', port: 7000, password: 'pw' });
  clusterSub.disconnect();

  await Promise.all([standalone.close(), sentinel.close(), cluster.close()]);
});
