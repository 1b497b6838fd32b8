import t from 'tap';
import { startRedis } from '../support/redis-server.js';
import { contractStoreFactory } from '../support/redis-store-fixture.js';
import { runStoreContract } from '../support/store-contract.js';

/** The SessionStore contract, against the Redis store on a real redis-server. */
const redis = await startRedis();
t.teardown(() => redis.close());

await runStoreContract(t, 'redis', contractStoreFactory(redis.url));
// a mirror of 3 sessions: most subtests hold more, so eviction and miss reads are exercised
await runStoreContract(t, 'redis, mirror bounded at 3', contractStoreFactory(redis.url, { mirrorMaxSessions: 3 }));
