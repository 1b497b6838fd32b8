import { hkdfSync } from 'node:crypto';
import type { JWK } from 'jose';
import type { AddCondition, KeyStore, StoredKey } from './types.js';
import type { Logger } from '../observability/logger.js';
import { createRedisBackend, type RedisConnection } from '../redis/connection.js';
import { describeTarget, parseRedisUrl } from '../config/redis-url.js';
import { createSealedBox, encryptionKeyFromMaterial } from '../lib/sealed-box.js';

export interface RedisKeyStoreOptions {
  url: string;
  keyPrefix: string;
  /** the same key material as the session store's tokens (session.encryption_key, else cookie.secret) */
  keyMaterial: string;
  logger: Logger;
}

/**
 * Identity-assertion signing keys in Redis, shared by every replica and the rotate-keys command.
 *
 *   P signing-keys           hash kid → JSON { v, kid, createdAt, activatesAt, publicJwk, sealed }
 *   P signing-keys:changed   PUBLISH channel: "the keys changed", carrying the kid
 *
 * One key (one Cluster slot) so the conditional add is one atomic script. The private JWK is
 * sealed with the token cipher (AES-256-GCM, the kid as AAD) under a key of its own, derived
 * from the session encryption material with HKDF and a separate label. Notifications are a hint:
 * listeners also hear of every (re)connect, and the key manager re-reads periodically.
 */
export function createRedisKeyStore(options: RedisKeyStoreOptions): KeyStore {
  const logger = options.logger.child({ component: 'key-store', store: 'redis' });
  const target = parseRedisUrl(options.url);
  const backend = createRedisBackend(target);
  const client = backend.client;
  const hashKey = `${options.keyPrefix}signing-keys`;
  const channel = `${options.keyPrefix}signing-keys:changed`;
  const box = createSealedBox(signingKey(options.keyMaterial));
  const listeners = new Set<() => void>();
  const announce = () => {
    for (const listener of listeners) listener();
  };
  let subscriber: RedisConnection | undefined;
  let started: Promise<void> | undefined;

  client.on('error', (error: Error) => logger.debug({ err: error.message }, 'redis connection error'));
  client.on('ready', announce);

  function decode(raw: string): StoredKey | undefined {
    try {
      const value = JSON.parse(raw) as Record<string, unknown>;
      const { kid, createdAt, activatesAt, publicJwk, sealed } = value;
      if (typeof kid !== 'string' || typeof createdAt !== 'number' || typeof activatesAt !== 'number') return undefined;
      if (typeof publicJwk !== 'object' || publicJwk === null) return undefined;
      const opened = typeof sealed === 'string' ? box.open(sealed, aad(kid)) : undefined;
      const privateJwk = opened ? privateJwkFrom(opened) : undefined;
      return { kid, createdAt, activatesAt, publicJwk: publicJwk as JWK, ...(privateJwk ? { privateJwk } : {}) };
    } catch {
      return undefined;
    }
  }

  function encode(key: StoredKey): string {
    const sealed = key.privateJwk ? box.seal(JSON.stringify({ accessToken: JSON.stringify(key.privateJwk) }), aad(key.kid)) : undefined;
    return JSON.stringify({ v: 1, kid: key.kid, createdAt: key.createdAt, activatesAt: key.activatesAt, publicJwk: key.publicJwk, sealed });
  }

  async function publish(kid: string): Promise<void> {
    // best effort: a replica that misses it re-reads on its next resync
    await client.publish(channel, kid).catch((error: unknown) => logger.debug({ err: String(error) }, 'key change not announced'));
  }

  function startSubscriber(): void {
    const sub = backend.createSubscriber();
    subscriber = sub;
    sub.on('error', (error: Error) => logger.debug({ err: error.message }, 'key subscriber connection error'));
    // autoResubscribe is off (redis/connection.ts): subscribe on every (re)connect, then re-read
    sub.on('ready', () => {
      sub.subscribe(channel).then(announce, (error: unknown) => logger.debug({ err: String(error) }, 'key channel subscribe failed'));
    });
    sub.on('message', (from: string) => {
      if (from === channel) announce();
    });
    sub.connect().catch(() => undefined);
  }

  return {
    start() {
      started ??= new Promise<void>((resolve) => {
        logger.info({ redis: describeTarget(target), key: hashKey }, 'signing keys in Redis');
        if (backend.isReady()) resolve();
        else client.once('ready', () => resolve());
        startSubscriber();
        client.connect().catch(() => undefined); // ioredis keeps reconnecting
      });
      return started;
    },
    async list() {
      const all = await client.hgetall(hashKey);
      const keys: StoredKey[] = [];
      for (const [field, raw] of Object.entries(all)) {
        const key = decode(raw);
        if (key && key.kid === field) keys.push(key);
        else logger.warn({ field }, 'ignoring an unreadable signing-key entry');
      }
      return keys;
    },
    async add(key, condition?: AddCondition) {
      const added = await client.eval(
        ADD_SCRIPT,
        1,
        hashKey,
        key.kid,
        encode(key),
        condition?.noKeyActiveBy === undefined ? '' : String(condition.noKeyActiveBy),
        condition?.noKeyCreatedAfter === undefined ? '' : String(condition.noKeyCreatedAfter),
      );
      if (added !== 1) return false;
      await publish(key.kid);
      return true;
    },
    async remove(kid) {
      if ((await client.hdel(hashKey, kid)) > 0) await publish(kid);
    },
    subscribe(onChange) {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    async close() {
      listeners.clear();
      if (subscriber && subscriber.status !== 'end') subscriber.disconnect();
      await backend.close();
    },
  };
}

function aad(kid: string): string {
  return `signing-key:${kid}`;
}

/** Its own AES key: HKDF over the token key with a label no other use shares. */
function signingKey(material: string): Buffer {
  const base = encryptionKeyFromMaterial(material);
  // the same bytes the first release derived (it went through a base64url round trip)
  return encryptionKeyFromMaterial(Buffer.from(hkdfSync('sha256', base, 'portcullis', 'portcullis signing-key encryption v1', 32)).toString('base64url'));
}

/**
 * The sealed plaintext is `{ "accessToken": "<private JWK as JSON>" }`: the format of the first
 * release, which sealed it as a session-token record. Kept so stored keys stay readable.
 */
function privateJwkFrom(plain: string): JWK | undefined {
  const wrapper = JSON.parse(plain) as { accessToken?: unknown };
  return typeof wrapper.accessToken === 'string' ? (JSON.parse(wrapper.accessToken) as JWK) : undefined;
}

/**
 * KEYS[1] = the hash; ARGV: kid, value, noKeyActiveBy ('' = no condition), noKeyCreatedAfter ('').
 * Adds only if the kid is new and no stored key breaks the condition → 1 | 0. Times are integral
 * ms (exact in Lua's doubles).
 */
const ADD_SCRIPT = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local activeBy = tonumber(ARGV[3])
local createdAfter = tonumber(ARGV[4])
if activeBy or createdAfter then
  for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
    local ok, key = pcall(cjson.decode, raw)
    if ok and type(key) == 'table' then
      local activates = tonumber(key.activatesAt)
      local created = tonumber(key.createdAt)
      if activeBy and activates and activates <= activeBy then return 0 end
      if createdAfter and created and created > createdAfter then return 0 end
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;
