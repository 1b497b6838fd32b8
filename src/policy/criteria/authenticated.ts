import type { Criterion } from './types.js';

/** `authenticated: true`: any signed-in user. A policy is only evaluated for a signed-in subject. */
export function compileAuthenticated(): Criterion {
  return { describe: 'authenticated', test: () => true };
}
