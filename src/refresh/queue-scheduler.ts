/**
 * Background refresh from the store's shared refresh queue (RefreshQueue, Redis `P r`) instead of
 * this replica's mirror: what a replica runs when its mirror holds only a working set
 * (session.redis.mirror_max_sessions), so it cannot see every session. Every session is still
 * refreshed, each on one replica: members are handed out by an atomic claim that holds them for the
 * lease TTL (a replica that dies holding one lets the hold run out), and the refresh itself still
 * takes the per-session lease and writes conditionally, exactly as in scheduler.ts.
 *
 * Idle cost: one claim when the earliest member is due, and at most one per poll interval (members
 * written by other replicas may be due sooner than what this one last saw). No per-session memory.
 */
import { LRUCache } from 'lru-cache';
import { settleWithin } from '../lib/settle.js';
import type { RefreshQueue } from '../session/store.js';
import { createRefreshAttempt, describe, type AttemptResult } from './attempt.js';
import { nextBackoff } from './backoff.js';
import type { RefreshScheduler, RefreshSchedulerDeps } from './scheduler.js';
import { createWakeTimer, systemTimers } from './wake-timer.js';

export interface QueueSchedulerDeps extends RefreshSchedulerDeps {
  queue: RefreshQueue;
  /** longest wait between two claims (default: half of refresh_ahead, within 100 ms … 5 s) */
  pollMs?: number;
}

/** transient-failure counts kept for backoff; beyond this many failing sessions, the oldest restart at 1 */
const MAX_FAILING = 10_000;

export function createQueueScheduler(deps: QueueSchedulerDeps): RefreshScheduler {
  const { store, refresher, clock, metrics, replicaId, refreshAheadMs, maxBackoffMs, queue } = deps;
  const log = deps.logger.child({ component: 'refresh', source: 'queue' });
  const random = deps.random ?? Math.random;
  const leaseTtlMs = deps.leaseTtlMs ?? 30_000;
  const retryBaseMs = Math.min(deps.retryBaseMs ?? 1_000, maxBackoffMs);
  const concurrency = Math.max(1, deps.concurrency ?? 8);
  const closeTimeoutMs = deps.closeTimeoutMs ?? 5_000;
  const pollMs = deps.pollMs ?? Math.max(100, Math.min(5_000, refreshAheadMs / 2));
  const attempt = createRefreshAttempt({ store, refresher, log, metrics, replicaId, leaseTtlMs });

  const running = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const failures = new LRUCache<string, { attempt: number; previousMs: number }>({ max: MAX_FAILING });
  const wake = createWakeTimer(deps.timers ?? systemTimers, clock, claim);
  let nextScore: number | undefined;
  /** the last claim was full: more may be due now */
  let backlog = false;
  let claiming = false;
  let started = false;
  let closed = false;

  const quietly = (work: Promise<void>): void => {
    work.catch((err: unknown) => log.debug({ error: describe(err) }, 'refresh queue not updated; the claim hold runs out instead'));
  };

  function arm(): void {
    if (!started || closed || claiming) return;
    if (running.size >= concurrency) return wake.armAt(undefined); // a finishing run claims again
    const now = clock.now();
    let at = now + pollMs;
    if (backlog) at = now;
    else if (nextScore !== undefined) at = Math.min(at, Math.max(now, nextScore - refreshAheadMs));
    wake.armAt(at);
  }

  function claim(): void {
    if (!started || closed || claiming) return;
    const room = concurrency - running.size;
    if (room <= 0) return;
    claiming = true;
    const now = clock.now();
    queue
      .claim(now + refreshAheadMs, now + leaseTtlMs + refreshAheadMs, room)
      .then(
        ({ claimed, next }) => {
          nextScore = next;
          backlog = claimed.length >= room;
          for (const { handle } of claimed) if (!running.has(handle)) begin(handle);
        },
        (err: unknown) => {
          backlog = false;
          log.debug({ error: describe(err) }, 'refresh queue claim failed; trying again later');
        },
      )
      .finally(() => {
        claiming = false;
        arm();
      });
  }

  function begin(handle: string): void {
    running.add(handle);
    const done: Promise<void> = attempt(handle, { dueBy: clock.now() + refreshAheadMs }, () => closed)
      .then((result) => settle(handle, result))
      .catch((err: unknown) => {
        metrics.tokenRefresh.inc({ result: 'error' });
        log.error({ handle, error: describe(err) }, 'token refresh run failed');
      })
      .finally(() => {
        running.delete(handle);
        inFlight.delete(done);
        if (backlog) claim();
        else arm();
      });
    inFlight.add(done);
  }

  function retryLater(handle: string): void {
    const before = failures.get(handle);
    const attemptNo = (before?.attempt ?? 0) + 1;
    const delay = nextBackoff(attemptNo, { baseMs: retryBaseMs, maxMs: maxBackoffMs, random, jitter: 'decorrelated', previousMs: before?.previousMs });
    failures.set(handle, { attempt: attemptNo, previousMs: delay });
    quietly(queue.schedule(handle, clock.now() + delay + refreshAheadMs));
  }

  /** What the queue member becomes after an attempt (a refresh's own write already moved it). */
  function settle(handle: string, result: AttemptResult): void {
    if (closed) return;
    switch (result.kind) {
      case 'busy':
      case 'superseded':
      case 'cancelled':
        return; // another replica (or a logout) is on it; the claim's hold brings it back if not
      case 'moved':
        failures.delete(handle);
        if (result.session.refreshable && result.session.accessTokenExpiresAt !== undefined) {
          quietly(queue.schedule(handle, result.session.accessTokenExpiresAt));
        } else quietly(queue.unschedule(handle));
        return;
      case 'refreshed': {
        failures.delete(handle);
        const exp = result.session.accessTokenExpiresAt;
        // the IdP handed back a token that is due again at once: do not spin on it
        if (exp !== undefined && exp - refreshAheadMs <= clock.now()) retryLater(handle);
        return;
      }
      case 'gone':
      case 'revoked':
        failures.delete(handle);
        quietly(queue.unschedule(handle));
        return;
      case 'transient':
      case 'error':
        retryLater(handle);
        return;
    }
  }

  return {
    start() {
      if (started || closed) return;
      started = true;
      claim();
    },
    async close() {
      if (closed) return;
      closed = true;
      wake.stop();
      if (inFlight.size === 0) return;
      await settleWithin(inFlight, closeTimeoutMs);
    },
    size: () => running.size,
    nextDueAt: () => (nextScore === undefined ? undefined : nextScore - refreshAheadMs),
  };
}
