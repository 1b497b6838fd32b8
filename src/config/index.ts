import type { PolicyDocument } from './policy-schema.js';
import type { ParsedConfig } from './schema.js';

/**
 * The validated, frozen config the composition root builds everything from.
 * (config/load.ts produces it; policies are parsed from policies_dir.)
 */
export type Config = ParsedConfig & {
  /** directory the config file lives in; relative paths resolve against it */
  readonly baseDir: string;
  readonly policies: readonly PolicyDocument[];
};

export { checkConfig, loadConfigFile, parseConfig } from './load.js';
export type { CheckConfigResult, ParseConfigOptions } from './load.js';
export type { ClaimCriterion, ClaimValue, OneOrMany, PolicyDocument, PolicyRule } from './policy-schema.js';
export { parseRouteFrom, type RouteFrom } from './route-from.js';
export { LOG_LEVELS, type LogLevel } from './schema.js';
