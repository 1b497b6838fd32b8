export { compilePolicies, compilePolicy } from './compile.js';
export type { Decision, Policy, RequestFacts, Subject } from './types.js';
