import { Redis } from 'ioredis';
import { parseConfig } from '../../src/config/index.js';
import { encodeView } from '../../src/session/redis-codec.js';
import { createRedisKeys } from '../../src/session/redis-keys.js';
import { CREATE, INDEX_ADD, type LuaScript } from '../../src/session/redis-scripts.js';
import { createTokenCipher, tokenKeyMaterial } from '../../src/session/token-crypto.js';
import { sessionEndsAt, toSession } from '../../src/session/types.js';
import { COOKIE_NAME, COOKIE_SECRET, gatewayConfig, type GatewaySpec } from '../targets/gateway.js';
import { benchSession, sessionCookie, type SeededSession } from './sessions.js';

/**
 * Child process: writes `count` sessions into Redis as the store's create() does (index scripts,
 * then the conditional CREATE script, with the store's own key layout, view codec and token
 * cipher, all imported), but in pipelines of BATCH sessions: one socket write and one await per
 * batch instead of three per session, so a million sessions take a minute, not ten. Prints
 * `{seconds, sessions, keep}` where `keep` are the first `keep` sessions' cookies.
 */
const { spec, count, keep } = JSON.parse(process.argv[2]!) as { spec: GatewaySpec; count: number; keep: number };
const BATCH = 2000;
/** index sets outlive their longest member by this much (as redis-indexes.ts keeps them) */
const INDEX_SLACK_MS = 60_000;

async function main(): Promise<void> {
  const config = parseConfig(gatewayConfig(spec), { baseDir: process.cwd(), env: {} });
  const { redis: settings, idle_timeout: idleTimeoutMs } = config.session;
  const keys = createRedisKeys(settings.key_prefix);
  const cipher = createTokenCipher(tokenKeyMaterial(config.session.encryption_key, config.cookie.secret));
  const client = new Redis(settings.url, { lazyConnect: true });
  await client.connect();
  const shas = new Map<LuaScript, string>();
  for (const script of [CREATE, INDEX_ADD]) shas.set(script, String(await client.script('LOAD', script.source)));
  const nextCookie = sessionCookie(COOKIE_NAME, COOKIE_SECRET);
  const kept: SeededSession[] = [];
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  for (let from = 0; from < count; from += BATCH) {
    const pipeline = client.pipeline();
    const now = Date.now();
    for (let i = from; i < Math.min(count, from + BATCH); i++) {
      const { id, seeded } = nextCookie(now);
      if (i < keep) kept.push(seeded);
      const record = benchSession(i, id, now);
      const session = toSession(record);
      const indexTtl = String(session.expiresAt - now + INDEX_SLACK_MS);
      pipeline.evalsha(shas.get(INDEX_ADD)!, 1, keys.bySub(session.user.sub), session.handle, indexTtl);
      pipeline.evalsha(shas.get(INDEX_ADD)!, 1, keys.byIdpSid(session.idpSid!), session.handle, indexTtl);
      // the refresh queue's member, as create() writes it (redis-refresh-queue.ts)
      pipeline.zadd(keys.refreshQueue, String(session.accessTokenExpiresAt), session.handle);
      pipeline.evalsha(shas.get(CREATE)!, 3, ...keys.triple(session.handle), encodeView(session), cipher.seal(record.tokens, session.handle), String(sessionEndsAt(session, idleTimeoutMs) - now));
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error, reply], n) => error || (n % 4 === 3 && reply !== 'OK'));
    if (failed) throw new Error(`a session write failed: ${String(failed[0] ?? failed[1])}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  client.disconnect();
  process.stdout.write(`${JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, sessions: count, keep: kept })}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(2);
  },
);
