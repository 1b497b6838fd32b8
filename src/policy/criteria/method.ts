import type { OneOrMany } from '../../config/policy-schema.js';
import { type Criterion, describeList, toList } from './types.js';

/** `method`: the request method, case-insensitive; GET also covers HEAD. */
export function compileMethod(value: OneOrMany<string>): Criterion {
  const list = toList(value).map((method) => method.toUpperCase());
  const methods = new Set(list);
  // Express, Go and Spring run the GET handler for HEAD: a rule about GET covers HEAD too
  if (methods.has('GET')) methods.add('HEAD');
  return {
    describe: describeList('method', list),
    // node reports methods upper-case already, so toUpperCase is normally not reached
    test: (_subject, request) => methods.has(request.method) || methods.has(request.method.toUpperCase()),
  };
}
