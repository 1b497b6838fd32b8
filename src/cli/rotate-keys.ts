import type { Config } from '../config/index.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { withTimeout } from '../lib/settle.js';
import { generateStoredKey } from '../keys/key-material.js';
import type { Logger } from '../observability/logger.js';
import { createRedisKeyStore } from '../keys/redis-key-store.js';

const CONNECT_TIMEOUT_MS = 15_000;

/**
 * `portcullis rotate-keys`: adds a signing key to the shared (Redis) store. Every running replica
 * publishes it at once (the store announces it) and signs with it after signing.publish_ahead;
 * the key it replaces stays published until its last assertion has expired.
 */
export async function runRotateKeysCommand(
  config: Config,
  deps: { logger: Logger; out: (line: string) => void; err: (line: string) => void; clock?: Clock },
): Promise<number> {
  if (config.session.store !== 'redis') {
    deps.err('rotate-keys needs session.store: redis (with the memory store, signing keys live inside one gateway process; restart it for a new key)');
    return 1;
  }
  const clock = deps.clock ?? systemClock;
  const store = createRedisKeyStore({
    url: config.session.redis.url,
    keyPrefix: config.session.redis.key_prefix,
    keyMaterial: config.session.encryption_key ?? config.cookie.secret,
    logger: deps.logger,
  });
  try {
    await withTimeout(store.start(), CONNECT_TIMEOUT_MS, `Redis did not become ready within ${CONNECT_TIMEOUT_MS / 1000}s`);
    const now = clock.now();
    const key = await generateStoredKey(now, now + config.signing.publish_ahead);
    if (!(await store.add(key))) throw new Error('the new key could not be stored');
    deps.out(`created signing key ${key.kid}`);
    deps.out(`published now; signs from ${new Date(key.activatesAt).toISOString()} (in ${Math.round(config.signing.publish_ahead / 1000)}s)`);
    return 0;
  } finally {
    await store.close();
  }
}
