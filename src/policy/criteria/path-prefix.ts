import type { OneOrMany } from '../../config/policy-schema.js';
import { canonicalPathPrefix, pathHasPrefix } from '../../lib/path.js';
import { type Criterion, describeList, toList } from './types.js';

/** `path_prefix`: whole-segment prefix of the normalized request path. */
export function compilePathPrefix(value: OneOrMany<string>): Criterion {
  const list = toList(value);
  const prefixes = list.map((prefix) => {
    const canonical = canonicalPathPrefix(prefix);
    // the policy schema already refused these; fail loudly rather than match nothing
    if (canonical === undefined) throw new Error(`invalid path_prefix "${prefix}"`);
    return canonical;
  });
  return {
    describe: describeList('path_prefix', list),
    test(_subject, request) {
      for (const prefix of prefixes) if (pathHasPrefix(request.path, prefix)) return true;
      return false;
    },
  };
}
