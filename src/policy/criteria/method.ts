import type { OneOrMany } from '../../config/policy-schema.js';
import { type Criterion, describeList, toList } from './types.js';

/** `method`: the request method, case-insensitive. */
export function compileMethod(value: OneOrMany<string>): Criterion {
  const list = toList(value).map((method) => method.toUpperCase());
  const methods = new Set(list);
  return {
    describe: describeList('method', list),
    // node reports methods upper-case already, so toUpperCase is normally not reached
    test: (_subject, request) => methods.has(request.method) || methods.has(request.method.toUpperCase()),
  };
}
