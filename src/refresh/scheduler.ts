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
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { SKIP, type SessionStore, type StoreEvent } from '../session/store.js';
import { toSession, type Session, type SessionRecord, type SessionTokens } from '../session/types.js';
import { dueAt, nextBackoff } from './backoff.js';
import { createDueHeap } from './heap.js';
import type { TokenRefresher } from './types.js';

export interface SchedulerTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

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

/** setTimeout's delay is a signed 32-bit int (~24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const systemTimers: SchedulerTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export function createRefreshScheduler(deps: RefreshSchedulerDeps): RefreshScheduler {
  const { store, refresher, clock, metrics, replicaId, refreshAheadMs, maxBackoffMs } = deps;
  const log = deps.logger.child({ component: 'refresh' });
  const random = deps.random ?? Math.random;
  const timers = deps.timers ?? systemTimers;
  const leaseTtlMs = deps.leaseTtlMs ?? 30_000;
  const retryBaseMs = Math.min(deps.retryBaseMs ?? 1_000, maxBackoffMs);
  const concurrency = Math.max(1, deps.concurrency ?? 8);
  const closeTimeoutMs = deps.closeTimeoutMs ?? 5_000;

  const heap = createDueHeap<Plan>();
  const running = new Map<string, Run>();
  const inFlight = new Set<Promise<void>>();
  let timer: unknown;
  let armedFor: number | undefined;
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
    if (due === undefined) return;
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

  function arm(): void {
    if (!started || closed) return;
    const head = running.size < concurrency ? heap.peek() : undefined;
    if (head?.due === armedFor && (timer !== undefined || head === undefined)) return;
    if (timer !== undefined) timers.clearTimeout(timer);
    timer = undefined;
    armedFor = head?.due;
    if (head === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, head.due - clock.now()));
    timer = timers.setTimeout(onTimer, delay);
    (timer as { unref?: () => void } | undefined)?.unref?.();
  }

  function onTimer(): void {
    timer = undefined;
    armedFor = undefined;
    drain();
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
    const attempt = plan.attempt + 1;
    const delay = nextBackoff(attempt, {
      baseMs: retryBaseMs,
      maxMs: maxBackoffMs,
      random,
      jitter: 'decorrelated',
      previousMs: plan.previousDelayMs,
    });
    return { due: clock.now() + delay, plan: { exp: plan.exp, attempt, previousDelayMs: delay } };
  }

  /** One refresh attempt under the lease; resolves to the run's own idea of the next schedule. */
  async function execute(handle: string, run: Run): Promise<Proposal | undefined> {
    const lease = `refresh:${handle}`;
    let held = false;
    try {
      held = await store.acquireLease(lease, replicaId, leaseTtlMs);
      // another replica is refreshing it; its write will reschedule us through a `set` event
      if (!held) return { due: clock.now() + leaseTtlMs, plan: run.plan };
      if (run.cancelled) return undefined;
      const loaded = await store.load(handle);
      if (!loaded || !loaded.refreshable || loaded.accessTokenExpiresAt === undefined || !loaded.tokens.refreshToken) {
        cancel(handle);
        return undefined;
      }
      if (loaded.accessTokenExpiresAt !== run.plan.exp) {
        // refreshed elsewhere since this entry was planned: plan again from the new token
        onSession(toSession(loaded));
        return undefined;
      }
      if (run.cancelled) return undefined;
      return await refreshOnce(handle, run, loaded, loaded.tokens.refreshToken);
    } catch (err) {
      count('error');
      log.error({ handle, error: describe(err) }, 'token refresh failed');
      return run.cancelled ? undefined : backoff(run.plan);
    } finally {
      if (held) {
        await store.releaseLease(lease, replicaId).catch((err: unknown) => {
          log.warn({ handle, error: describe(err) }, 'could not release the refresh lease; it lapses by itself');
        });
      }
    }
  }

  async function refreshOnce(handle: string, run: Run, loaded: SessionRecord, refreshToken: string): Promise<Proposal | undefined> {
    const outcome = await refresher.refresh(refreshToken);
    switch (outcome.kind) {
      case 'ok': {
        count('ok');
        // logged out meanwhile: nothing to write (the store would refuse it anyway)
        if (run.cancelled) return undefined;
        let skipped = false;
        const written = await store.update(handle, (current) => {
          // only on top of the tokens we refreshed from; touches in between are kept
          skipped = !sameTokens(current.tokens, loaded.tokens);
          if (skipped) return SKIP;
          return {
            ...current,
            tokens: mergeTokens(current.tokens, outcome.tokens),
            accessTokenExpiresAt: outcome.accessTokenExpiresAt,
          };
        });
        if (written) {
          log.debug({ handle }, 'access token refreshed');
          onSession(toSession(written));
          // the IdP handed back a token with the same expiry: do not spin on it, look again later
          return run.next || run.cancelled ? undefined : backoff(run.plan);
        }
        if (skipped) {
          // someone else changed the tokens: look again once the dust settles, unless a `set` comes first
          const seen = store.peek(handle);
          if (seen) onSession(seen);
          return { due: clock.now() + leaseTtlMs, plan: run.plan };
        }
        cancel(handle); // gone (logout raced the refresh): it stays dead
        return undefined;
      }
      case 'refused':
        count('refused');
        log.info({ handle, error: outcome.error }, 'token refresh refused by the IdP; ending the session');
        cancel(handle);
        try {
          // idempotent: a session already logged out keeps its first tombstone
          await store.remove(handle, 'revoked');
        } catch (err) {
          // not retried here: the IdP already refused this grant; any replica that tries again ends it
          count('error');
          log.error({ handle, error: describe(err) }, 'could not end a session whose refresh was refused');
        }
        return undefined;
      case 'transient':
        count('transient');
        log.warn({ handle, error: outcome.error, attempt: run.plan.attempt + 1 }, 'token refresh failed; will retry');
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
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      unsubscribe?.();
      heap.clear();
      if (inFlight.size === 0) return;
      let bound: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        bound = setTimeout(resolve, closeTimeoutMs);
        bound.unref();
      });
      await Promise.race([Promise.allSettled([...inFlight]), timeout]);
      clearTimeout(bound);
    },
    size() {
      let live = 0;
      for (const run of running.values()) if (!run.cancelled) live++;
      return heap.size() + live;
    },
    nextDueAt: () => heap.peek()?.due,
  };
}

function sameTokens(a: SessionTokens, b: SessionTokens): boolean {
  return a.accessToken === b.accessToken && a.refreshToken === b.refreshToken;
}

/** An IdP may omit a new refresh token or ID token from a refresh response: keep the ones held. */
function mergeTokens(held: SessionTokens, fresh: SessionTokens): SessionTokens {
  return {
    ...held,
    ...fresh,
    refreshToken: fresh.refreshToken ?? held.refreshToken,
    idToken: fresh.idToken ?? held.idToken,
    tokenType: fresh.tokenType ?? held.tokenType,
  };
}

/** An error's name and message only: no stack, no request objects that could carry tokens. */
function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}
