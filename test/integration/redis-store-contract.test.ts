import t from 'tap';
import { createLogger } from '../../src/observability/logger.js';
import { createRedisStore } from '../../src/session/redis-store.js';
import { startRedis } from '../support/redis-server.js';
import { TOKEN_KEY } from '../support/redis-store-fixture.js';
import { runStoreContract } from '../support/store-contract.js';

/** The SessionStore contract, against the Redis store on a real redis-server. */
const redis = await startRedis();
t.teardown(() => redis.close());

await runStoreContract(t, 'redis', async (opts) => {
  const store = createRedisStore({
    url: redis.url,
    keyPrefix: 'contract:',
    tokenKey: TOKEN_KEY,
    clock: opts.clock,
    idleTimeoutMs: opts.idleTimeoutMs,
    tombstoneTtlMs: opts.tombstoneTtlMs,
    configureKeyspaceEvents: true,
    outageQueueLimit: 1000,
    logger: createLogger({ level: 'silent' }),
  });
  return { store, cleanup: () => store.close() };
});
