import { Writable } from 'node:stream';
import type { Test } from 'tap';
import type { Clock } from '../../src/lib/clock.js';
import { digest, randomToken } from '../../src/lib/random.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createRedisStore, type RedisStoreOptions } from '../../src/session/redis-store.js';
import type { SessionStore } from '../../src/session/store.js';
import type { SessionRecord } from '../../src/session/types.js';

/** Helpers for tests of the Redis store against a real redis-server (see redis-server.ts). */
export const TOKEN_KEY = 'test token key material, long enough';

export function newHandle(): string {
  return digest(randomToken());
}

export function makeRecord(overrides: Partial<SessionRecord> = {}, now = Date.now()): SessionRecord {
  return {
    handle: newHandle(),
    user: { sub: `user-${randomToken(6)}`, email: 'ada@example.com', groups: ['eng', 'ops'], claims: { email_verified: true, n: 1 } },
    idpSid: `sid-${randomToken(6)}`,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 3_600_000,
    accessTokenExpiresAt: now + 300_000,
    refreshable: true,
    version: 1,
    userAgent: 'test',
    tokens: {
      accessToken: `AT-${randomToken(16)}`,
      refreshToken: `RT-${randomToken(16)}`,
      idToken: `ID-${randomToken(16)}`,
      tokenType: 'Bearer',
    },
    ...overrides,
  };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface StoreFixture {
  store: SessionStore;
  metrics: Metrics;
  logs: LogLine[];
}

export function makeStore(t: Test, url: string, overrides: Partial<RedisStoreOptions> & { clock?: Clock } = {}): StoreFixture {
  const logs: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const store = createRedisStore({
    url,
    keyPrefix: 'pc:',
    tokenKey: TOKEN_KEY,
    clock: { now: () => Date.now() },
    idleTimeoutMs: 3_600_000,
    tombstoneTtlMs: 300_000,
    configureKeyspaceEvents: true,
    outageQueueLimit: 1000,
    logger: createLogger({ level: 'debug', destination }),
    metrics,
    ...overrides,
  });
  t.teardown(() => store.close());
  return { store, metrics, logs };
}

export async function until<T>(check: () => T | undefined | null | false | Promise<T | undefined | null | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

/** The factory the SessionStore contract suite needs, for a Redis store at `url` (optionally with a bounded mirror). */
export function contractStoreFactory(url: string, extra: { mirrorMaxSessions?: number } = {}) {
  return async (opts: { clock: Clock; idleTimeoutMs: number; tombstoneTtlMs: number }) => {
    const store = createRedisStore({
      url,
      keyPrefix: extra.mirrorMaxSessions === undefined ? 'contract:' : 'contract-bounded:',
      tokenKey: TOKEN_KEY,
      clock: opts.clock,
      idleTimeoutMs: opts.idleTimeoutMs,
      tombstoneTtlMs: opts.tombstoneTtlMs,
      configureKeyspaceEvents: true,
      outageQueueLimit: 1000,
      logger: createLogger({ level: 'silent' }),
      ...extra,
    });
    return { store, cleanup: () => store.close() };
  };
}
