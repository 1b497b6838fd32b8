import type { Config } from '../config/index.js';
import { compilePolicies, type Policy } from '../policy/index.js';
import { compileRoutes, type RouteTable } from '../routes/index.js';

/**
 * Everything a request needs that a reload may change: the route table (with each route's
 * forwarding settings) and the compiled policies. Built completely before it is used, never
 * mutated; a reload swaps the one reference and a request reads it once (DESIGN: Runtime).
 */
export interface Runtime {
  readonly routes: RouteTable;
  readonly policies: ReadonlyMap<string, Policy>;
}

export function buildRuntime(config: Config): Runtime {
  return Object.freeze({ routes: compileRoutes(config.routes), policies: compilePolicies(config.policies) });
}
