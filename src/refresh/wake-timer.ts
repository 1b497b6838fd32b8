import type { Clock } from '../lib/clock.js';

/** setTimeout / clearTimeout, injectable so tests can move time themselves. */
export interface SchedulerTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: SchedulerTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** setTimeout's delay is a signed 32-bit int (~24.8 days); Node fires longer ones after 1ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The scheduler's only timer: armed for one moment at a time, re-armed only when that moment
 * changes, and unref'd so that pending refreshes never keep the process alive.
 */
export interface WakeTimer {
  /** wake at `due` (ms since epoch), or never when undefined */
  armAt(due: number | undefined): void;
  stop(): void;
}

export function createWakeTimer(timers: SchedulerTimers, clock: Clock, onWake: () => void): WakeTimer {
  let timer: unknown;
  let armedFor: number | undefined;

  function stop(): void {
    if (timer !== undefined) timers.clearTimeout(timer);
    timer = undefined;
    armedFor = undefined;
  }

  return {
    armAt(due) {
      if (due === armedFor) return;
      stop();
      if (due === undefined) return;
      armedFor = due;
      // a clamped timer wakes early; the scheduler finds nothing due and arms again for the rest
      const delay = Math.min(MAX_TIMER_MS, Math.max(0, due - clock.now()));
      timer = timers.setTimeout(() => {
        timer = undefined;
        armedFor = undefined;
        onWake();
      }, delay);
      (timer as { unref?: () => void } | undefined)?.unref?.();
    },
    stop,
  };
}
