import { Writable } from 'node:stream';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { createRefreshScheduler, type RefreshScheduler, type SchedulerTimers } from '../../../src/refresh/scheduler.js';
import type { RefreshOutcome, TokenRefresher } from '../../../src/refresh/types.js';
import { createMemoryStore } from '../../../src/session/memory-store.js';
import type { SessionStore } from '../../../src/session/store.js';
import type { SessionRecord } from '../../../src/session/types.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

/** A clock and timers that move only when the test says so; counts timers pending at once. */
export function createFakeTime(start = 1_700_000_000_000) {
  let now = start;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const stats = { maxPending: 0, created: 0, overflows: 0 };
  const clock = { now: () => now };
  const timers: SchedulerTimers = {
    setTimeout(fn, ms) {
      // as Node does: a delay beyond a signed 32-bit int becomes 1ms
      if (ms > 2 ** 31 - 1) {
        stats.overflows++;
        ms = 1;
      }
      const id = ++seq;
      pending.set(id, { at: now + ms, fn });
      stats.created++;
      stats.maxPending = Math.max(stats.maxPending, pending.size);
      return id;
    },
    clearTimeout(id) {
      pending.delete(id as number);
    },
  };

  /** Lets every promise chain that does no real I/O run to completion. */
  async function settle(): Promise<void> {
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  /** Moves time forward by `ms`, firing each timer at its own moment, in order. */
  async function advance(ms: number): Promise<void> {
    const end = now + ms;
    await settle();
    for (let fired = 0; ; fired++) {
      if (fired > 20_000) throw new Error('timers keep firing: a timer loop?');
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of pending) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      pending.delete(next[0]);
      now = Math.max(now, next[1].at);
      next[1].fn();
      await settle();
    }
    now = end;
    await settle();
  }

  return { clock, timers, stats, settle, advance, pending: () => pending.size, now: () => now };
}

export type FakeTime = ReturnType<typeof createFakeTime>;

/**
 * An IdP token endpoint that rotates refresh tokens: each refresh token works once, so a second
 * refresh with the same token (two replicas racing) shows up as a reuse.
 */
export function createFakeIdp(time: FakeTime, accessTokenLifetimeMs: number) {
  const valid = new Set<string>();
  const calls: Array<{ refreshToken: string; at: number }> = [];
  let issued = 0;
  let reuses = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let mode: 'ok' | 'refused' | 'transient' = 'ok';
  let gate: Promise<void> | undefined;

  const refresher: TokenRefresher = {
    async refresh(refreshToken): Promise<RefreshOutcome> {
      calls.push({ refreshToken, at: time.now() });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        if (gate) await gate;
        if (mode === 'transient') return { kind: 'transient', error: 'connect ECONNREFUSED' };
        if (mode === 'refused' || !valid.has(refreshToken)) {
          if (mode !== 'refused') reuses++;
          return { kind: 'refused', error: 'invalid_grant' };
        }
        valid.delete(refreshToken);
        const n = ++issued;
        const next = `rt-${n}`;
        valid.add(next);
        return {
          kind: 'ok',
          tokens: { accessToken: `at-${n}`, refreshToken: next, tokenType: 'Bearer' },
          accessTokenExpiresAt: time.now() + accessTokenLifetimeMs,
        };
      } finally {
        inFlight--;
      }
    },
  };

  return {
    refresher,
    calls,
    /** a refresh token the IdP will accept once */
    grant(refreshToken: string) {
      valid.add(refreshToken);
    },
    setMode(next: typeof mode) {
      mode = next;
    },
    /** holds every refresh until the returned function is called */
    hold(): () => void {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    reuses: () => reuses,
    maxInFlight: () => maxInFlight,
  };
}

export type FakeIdp = ReturnType<typeof createFakeIdp>;

export function newStore(time: FakeTime): SessionStore {
  return createMemoryStore({ clock: time.clock, idleTimeoutMs: 30 * 24 * HOUR, tombstoneTtlMs: HOUR });
}

/** A session whose access token expires `expiresInMs` from now, with a refresh token the IdP knows. */
export async function addSession(
  store: SessionStore,
  idp: FakeIdp,
  time: FakeTime,
  handle: string,
  expiresInMs: number,
  overrides: Partial<SessionRecord> = {},
): Promise<void> {
  const now = time.now();
  const refreshToken = `rt-initial-${handle}`;
  idp.grant(refreshToken);
  await store.create({
    handle,
    user: { sub: `user-${handle}`, groups: [], claims: {} },
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 14 * HOUR,
    accessTokenExpiresAt: now + expiresInMs,
    refreshable: true,
    version: 1,
    tokens: { accessToken: `at-initial-${handle}`, refreshToken, idToken: `id-${handle}` },
    ...overrides,
  });
}

/** Log lines as parsed JSON, for assertions on what reached the log. */
export function captureLogs() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

export interface ReplicaOptions {
  store: SessionStore;
  idp: FakeIdp;
  time: FakeTime;
  replicaId?: string;
  random?: () => number;
  refreshAheadMs?: number;
  maxBackoffMs?: number;
  leaseTtlMs?: number;
  concurrency?: number;
}

/** One "replica": a scheduler with its own metrics and log, sharing the store, IdP and time. */
export function startReplica(options: ReplicaOptions): { scheduler: RefreshScheduler; metrics: Metrics; logs: ReturnType<typeof captureLogs> } {
  const metrics = createMetrics({ defaultMetrics: false });
  const logs = captureLogs();
  const scheduler = createRefreshScheduler({
    store: options.store,
    refresher: options.idp.refresher,
    clock: options.time.clock,
    logger: logs.logger,
    metrics,
    replicaId: options.replicaId ?? 'replica-a',
    refreshAheadMs: options.refreshAheadMs ?? MINUTE,
    maxBackoffMs: options.maxBackoffMs ?? 5 * MINUTE,
    leaseTtlMs: options.leaseTtlMs ?? 30_000,
    concurrency: options.concurrency,
    timers: options.time.timers,
    random: options.random ?? (() => 0.5),
  });
  scheduler.start();
  return { scheduler, metrics, logs };
}

export async function refreshCount(metrics: Metrics, result: string): Promise<number> {
  const { values } = await metrics.tokenRefresh.get();
  return values.find((v) => v.labels.result === result)?.value ?? 0;
}
