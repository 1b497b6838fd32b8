import type { ClaimCriterion } from '../../config/policy-schema.js';
import { type Criterion, describeList } from './types.js';

/**
 * `claim`: the named claim equals one of the values, or, when the claim is an array, contains
 * one of them. Comparison is strict (the string "1" is not the number 1).
 */
export function compileClaim(criterion: ClaimCriterion): Criterion {
  const values = criterion.values ?? (criterion.value === undefined ? [] : [criterion.value]);
  const wanted = new Set<unknown>(values);
  const name = criterion.name;
  return {
    describe: describeList(`claim ${name} =`, values),
    test(subject) {
      if (!Object.hasOwn(subject.claims, name)) return false;
      const actual = subject.claims[name];
      if (!Array.isArray(actual)) return wanted.has(actual);
      for (const item of actual) if (wanted.has(item)) return true;
      return false;
    },
  };
}
