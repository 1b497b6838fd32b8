import type { OneOrMany } from '../../config/policy-schema.js';
import { type Criterion, describeList, toList, verifiedEmail } from './types.js';

/** `email`: exact address, case-insensitive. */
export function compileEmail(value: OneOrMany<string>): Criterion {
  const list = toList(value);
  const allowed = new Set(list.map((email) => email.toLowerCase()));
  return {
    describe: describeList('email', list),
    test(subject) {
      const email = verifiedEmail(subject);
      return email !== undefined && allowed.has(email.toLowerCase());
    },
  };
}
