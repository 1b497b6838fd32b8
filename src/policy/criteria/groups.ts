import type { OneOrMany } from '../../config/policy-schema.js';
import { type Criterion, describeList, toList } from './types.js';

/** `groups`: member of any of the listed groups (exact names). */
export function compileGroups(value: OneOrMany<string>): Criterion {
  const list = toList(value);
  const wanted = new Set(list);
  return {
    describe: describeList('groups', list),
    test(subject) {
      for (const group of subject.groups) if (wanted.has(group)) return true;
      return false;
    },
  };
}
