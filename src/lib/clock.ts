/** Injected wherever time decides behaviour, so tests can move it. */
export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });
