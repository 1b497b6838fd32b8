import type { OneOrMany } from '../../config/policy-schema.js';
import { type Criterion, describeList, toList } from './types.js';

/** `user`: the IdP's `sub`, exact (subject identifiers are case-sensitive). */
export function compileUser(value: OneOrMany<string>): Criterion {
  const list = toList(value);
  const subs = new Set(list);
  return {
    describe: describeList('user', list),
    test: (subject) => subs.has(subject.sub),
  };
}
