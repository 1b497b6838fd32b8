import type { OneOrMany } from '../../config/policy-schema.js';
import { type Criterion, describeList, toList, verifiedEmail } from './types.js';

/** `email_domain`: the domain of a verified, plain address equals one of the domains (subdomains do not count). */
export function compileEmailDomain(value: OneOrMany<string>): Criterion {
  const list = toList(value);
  // "@example.com": an endsWith test is then exact on the domain and allocates nothing
  const suffixes = [...new Set(list.map((domain) => `@${domain.replace(/^@/, '').toLowerCase()}`))];
  return {
    describe: describeList('email_domain', list),
    test(subject) {
      const email = verifiedEmail(subject);
      if (email === undefined) return false;
      const lower = email.toLowerCase(); // V8 returns the same string when already lower-case
      for (const suffix of suffixes) if (lower.length > suffix.length && lower.endsWith(suffix)) return true;
      return false;
    },
  };
}
