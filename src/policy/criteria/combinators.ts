import type { Criterion } from './types.js';

/** All of the criteria (also the meaning of several keys in one rule). */
export function allOf(parts: readonly Criterion[], describe: string): Criterion {
  if (parts.length === 1) return { describe, test: parts[0]!.test };
  return {
    describe,
    test(subject, request) {
      for (const part of parts) if (!part.test(subject, request)) return false;
      return true;
    },
  };
}

export function anyOf(parts: readonly Criterion[], describe: string): Criterion {
  return {
    describe,
    test(subject, request) {
      for (const part of parts) if (part.test(subject, request)) return true;
      return false;
    },
  };
}

export function negate(part: Criterion, describe: string): Criterion {
  return { describe, test: (subject, request) => !part.test(subject, request) };
}
