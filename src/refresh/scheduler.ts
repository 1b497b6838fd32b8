/**
 * Background access-token refresh for every session this replica's store mirror knows.
 *
 * - One min-heap keyed by due time and one (unref'd) timer armed for its head: never a timer per
 *   session. Due = access-token expiry − refresh_ahead − jitter (see dueAt in backoff.ts).
 * - Exactly one replica refreshes a session: the lease `refresh:<handle>` in the store. A replica
 *   that finds the lease taken looks again after the lease TTL, unless the refreshed session's
 *   `set` event reschedules it first; a holder that dies lets the lease lapse and another takes over.
 * - The refreshed tokens are written conditionally (only if the record still carries the tokens we
 *   refreshed from), and the store never overwrites a tombstone, so a logout racing a refresh wins.
 * - A definitive refusal (invalid_grant …) ends the session with a `revoked` tombstone that reaches
 *   every replica; it is never retried.
 *
 * Rule for transient failures (network, 5xx, timeout): retry with exponential backoff and jitter,
 * capped by refresh_max_backoff, for as long as the session lives. The session's own lifetime is
 * not shortened: it still ends only at its idle or absolute expiry (or a logout). Requests keep
 * being served from the session meanwhile; upstreams that need a fresh access token see an expired
 * one only once the IdP has been unreachable for longer than what was left of the token's lifetime.
 *
 * Operators: the refresher's own timeout must stay below the lease TTL, or a slow refresh could
 * outlive its lease and a second replica could use the same refresh token.
 */
import type { Clock } from '../lib/clock.js';
import { settleWithin } from '../lib/settle.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { SessionStore, StoreEvent } from '../session/store.js';
import type { Session } from '../session/types.js';
import { createRefreshAttempt, describe } from './attempt.js';
import { dueAt, nextBackoff } from './backoff.js';
import { createDueHeap } from './heap.js';
import type { TokenRefresher } from './types.js';
import { createWakeTimer, systemTimers, type SchedulerTimers } from './wake-timer.js';

export type { SchedulerTimers } from './wake-timer.js';

export interface RefreshSchedulerDeps {
  store: SessionStore;
  refresher: TokenRefresher;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  replicaId: string;
  refreshAheadMs: number;
  maxBackoffMs: number;
  /** how long a replica holds the refresh lease of a session (default 30s) */
  leaseTtlMs?: number;
  /** first backoff delay after a transient failure (default 1s, at most maxBackoffMs) */
  retryBaseMs?: number;
  /** refreshes in flight at once (default 8) */
  concurrency?: number;
  /** how long close() waits for refreshes in flight (default 5s) */
  closeTimeoutMs?: number;
  timers?: SchedulerTimers;
  random?: () => number;
}

export interface RefreshScheduler {
  start(): void;
  close(): Promise<void>;
  /** sessions scheduled or being refreshed now */
  size(): number;
  /** when the earliest scheduled refresh is due (ms since epoch) */
  nextDueAt(): number | undefined;
}

/** What a schedule entry was planned from. */
interface Plan {
  /** the access-token expiry the entry is for; a different one in the store means someone refreshed */
  exp: number;
  /** transient failures in a row */
  attempt: number;
  previousDelayMs?: number;
}

interface Proposal {
  due: number;
  plan: Plan;
}

/** One refresh in progress. Its session is out of the heap meanwhile, so it never runs twice at once. */
interface Run {
  plan: Plan;
  cancelled: boolean;
  /** a schedule decided by store events during the run; wins over the run's own outcome */
  next?: Proposal;
}

export function createRefreshScheduler(deps: RefreshSchedulerDeps): RefreshScheduler {
  const { store, refresher, clock, metrics, replicaId, refreshAheadMs, maxBackoffMs } = deps;
  const log = deps.logger.child({ component: 'refresh' });
  const random = deps.random ?? Math.random;
  const leaseTtlMs = deps.leaseTtlMs ?? 30_000;
  const retryBaseMs = Math.min(deps.retryBaseMs ?? 1_000, maxBackoffMs);
  const concurrency = Math.max(1, deps.concurrency ?? 8);
  const closeTimeoutMs = deps.closeTimeoutMs ?? 5_000;
  const attempt = createRefreshAttempt({ store, refresher, log, metrics, replicaId, leaseTtlMs });

  const heap = createDueHeap<Plan>();
  const running = new Map<string, Run>();
  const inFlight = new Set<Promise<void>>();
  const wake = createWakeTimer(deps.timers ?? systemTimers, clock, drain);
  let unsubscribe: (() => void) | undefined;
  let started = false;
  let closed = false;

  const count = (result: 'ok' | 'refused' | 'transient' | 'error'): void => metrics.tokenRefresh.inc({ result });

  function schedule(handle: string, proposal: Proposal): void {
    const run = running.get(handle);
    if (run) {
      if (!run.cancelled) run.next = proposal;
      return;
    }
    heap.set(handle, proposal.due, proposal.plan);
  }

  function cancel(handle: string): void {
    heap.delete(handle);
    const run = running.get(handle);
    if (run) {
      run.cancelled = true;
      run.next = undefined;
    }
  }

  /** (Re)schedules from a session as the store now shows it; a write that kept the token expiry keeps the entry. */
  function onSession(session: Session): void {
    const exp = session.accessTokenExpiresAt;
    if (!session.refreshable || exp === undefined) {
      cancel(session.handle);
      return;
    }
    const run = running.get(session.handle);
    const current = run ? (run.next?.plan ?? run.plan) : heap.get(session.handle)?.value;
    if (current?.exp === exp) return; // a touch or other write that did not refresh
    const due = dueAt(session, refreshAheadMs, random, clock.now());
    if (due === undefined) {
      cancel(session.handle);
      return;
    }
    schedule(session.handle, { due, plan: { exp, attempt: 0 } });
  }

  function reconcile(): void {
    const seen = new Set<string>();
    for (const session of store.snapshot()) {
      seen.add(session.handle);
      onSession(session);
    }
    for (const handle of [...heap.keys(), ...running.keys()]) if (!seen.has(handle)) cancel(handle);
  }

  function onEvent(event: StoreEvent): void {
    if (closed) return;
    try {
      switch (event.kind) {
        case 'set':
          onSession(event.session);
          break;
        case 'tombstone':
          cancel(event.tombstone.handle);
          break;
        case 'expired':
          cancel(event.handle);
          break;
        case 'resync':
          reconcile();
          break;
        default:
          // up / down: a resync follows a reconnect; failures meanwhile back off like any other
          break;
      }
      arm();
    } catch (err) {
      count('error');
      log.error({ event: event.kind, error: describe(err) }, 'refresh scheduler failed to handle a store event');
    }
  }

  /** One timer for the whole heap, at its head; none while the concurrency bound is reached. */
  function arm(): void {
    if (!started || closed) return;
    wake.armAt(running.size < concurrency ? heap.peek()?.due : undefined);
  }

  /** Starts every due refresh that fits in the concurrency bound, then re-arms for the next one. */
  function drain(): void {
    if (closed) return;
    const now = clock.now();
    while (running.size < concurrency) {
      const head = heap.peek();
      if (head === undefined || head.due > now) break;
      heap.pop();
      begin(head.key, head.value);
    }
    arm();
  }

  function begin(handle: string, plan: Plan): void {
    const run: Run = { plan, cancelled: false };
    running.set(handle, run);
    const done: Promise<void> = execute(handle, run)
      .catch((err: unknown): undefined => {
        count('error');
        log.error({ handle, error: describe(err) }, 'token refresh run failed');
        return undefined;
      })
      .then((proposal) => {
        running.delete(handle);
        if (run.cancelled || closed) return;
        const next = run.next ?? proposal;
        if (next) heap.set(handle, next.due, next.plan);
      })
      .finally(() => {
        inFlight.delete(done);
        drain();
      });
    inFlight.add(done);
  }

  function backoff(plan: Plan): Proposal {
    const failures = plan.attempt + 1;
    const delay = nextBackoff(failures, {
      baseMs: retryBaseMs,
      maxMs: maxBackoffMs,
      random,
      jitter: 'decorrelated',
      previousMs: plan.previousDelayMs,
    });
    return { due: clock.now() + delay, plan: { exp: plan.exp, attempt: failures, previousDelayMs: delay } };
  }

  /** Runs one attempt and turns its result into the run's own idea of the next schedule. */
  async function execute(handle: string, run: Run): Promise<Proposal | undefined> {
    const result = await attempt(handle, run.plan.exp, () => run.cancelled);
    switch (result.kind) {
      case 'busy':
        // another replica is refreshing it; its write normally reschedules us (a `set`) before this
        return { due: clock.now() + leaseTtlMs, plan: run.plan };
      case 'moved':
        onSession(result.session);
        return undefined;
      case 'refreshed':
        onSession(result.session);
        // the IdP handed back a token with the same expiry: do not spin on it, look again later
        return run.next || run.cancelled ? undefined : backoff(run.plan);
      case 'superseded':
        // someone else changed the tokens: look again once the dust settles, unless a `set` comes first
        if (result.seen) onSession(result.seen);
        return { due: clock.now() + leaseTtlMs, plan: run.plan };
      case 'gone':
      case 'revoked':
        cancel(handle);
        return undefined;
      case 'cancelled':
        return undefined;
      case 'transient':
      case 'error':
        return run.cancelled ? undefined : backoff(run.plan);
    }
  }

  return {
    start() {
      if (started || closed) return;
      started = true;
      unsubscribe = store.subscribe(onEvent);
      try {
        reconcile();
      } catch (err) {
        count('error');
        log.error({ error: describe(err) }, 'refresh scheduler could not read the session snapshot');
      }
      arm();
    },
    async close() {
      if (closed) return;
      closed = true;
      wake.stop();
      unsubscribe?.();
      heap.clear();
      if (inFlight.size === 0) return;
      await settleWithin(inFlight, closeTimeoutMs);
    },
    size() {
      let live = 0;
      for (const run of running.values()) if (!run.cancelled) live++;
      return heap.size() + live;
    },
    nextDueAt: () => heap.peek()?.due,
  };
}
