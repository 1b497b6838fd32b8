import { readFile as readFileAsync } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { deepFreeze } from './deep-freeze.js';
import type { Config } from './index.js';
import { toConfigIssues, zodMessages } from './issues.js';
import { loadPolicies, nodePolicyFs } from './policies.js';
import type { PolicyDocument } from './policy-schema.js';
import { interpolateEnv, isPlainObject, resolveSecretFiles } from './resolve-values.js';
import { configSchema } from './schema.js';
import { semanticIssues } from './semantic.js';
import { parseYaml } from './yaml-source.js';

export interface ParseConfigOptions {
  /** relative paths (policies_dir, *_file) resolve against this */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  /** synchronous file read (secrets, policy files); node:fs by default */
  readFile?: (path: string) => string;
  /** directory listing (policies_dir); node:fs by default; throws like fs when missing */
  listDir?: (path: string) => string[];
}

const DEFAULT_POLICIES_DIR = 'policies';

function routesNamePolicy(routes: unknown): boolean {
  return Array.isArray(routes) && routes.some((route) => isPlainObject(route) && route['policy'] !== undefined);
}

/**
 * A value whose ${env:} or *_file failed to resolve would also fail the schema ("must be at
 * least 32 bytes"); that second message only distracts from the first.
 */
function withoutEchoes(schemaIssues: ConfigIssue[], resolutionIssues: readonly ConfigIssue[]): ConfigIssue[] {
  const reported = new Set(resolutionIssues.map((issue) => issue.path.replace(/_file$/, '')));
  return schemaIssues.filter((issue) => !reported.has(issue.path));
}

/**
 * Validates a config document (already parsed from YAML) and the policies it points at.
 * Every problem is collected and thrown at once as a ConfigError; the result is deep-frozen.
 */
export function parseConfig(raw: unknown, opts: ParseConfigOptions): Config {
  const issues: ConfigIssue[] = [];
  const readFile = opts.readFile ?? nodePolicyFs.readFile;
  const listDir = opts.listDir ?? nodePolicyFs.listDir;

  const resolved = interpolateEnv(raw, opts.env, issues);
  resolveSecretFiles(resolved, opts.baseDir, readFile, issues);
  const parsed = configSchema.safeParse(resolved, { error: zodMessages });
  if (!parsed.success) issues.push(...withoutEchoes(toConfigIssues(parsed.error.issues, configSchema), issues));

  const document = isPlainObject(resolved) ? resolved : {};
  const dirSetting = document['policies_dir'];
  const policiesDir = typeof dirSetting === 'string' && dirSetting !== '' ? dirSetting : DEFAULT_POLICIES_DIR;
  let policies: PolicyDocument[] = [];
  let policyNames: ReadonlySet<string> | undefined;
  let policyFiles: ReadonlyMap<string, string> = new Map();
  if (dirSetting === undefined || policiesDir === dirSetting) {
    const policyIssues: ConfigIssue[] = [];
    const loaded = loadPolicies({ dir: policiesDir, baseDir: opts.baseDir, env: opts.env, readFile, listDir }, policyIssues);
    if (loaded.ok) {
      policies = loaded.policies;
      policyNames = loaded.names;
      policyFiles = loaded.files;
    }
    // a missing default directory only matters when some route names a policy
    const needed = dirSetting !== undefined || routesNamePolicy(document['routes']);
    if (loaded.ok || !loaded.missing || needed) issues.push(...policyIssues);
  }

  issues.push(...semanticIssues({ raw: resolved, policyNames, policiesDir, policies, policyFiles }));
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues);
  return deepFreeze({ ...parsed.data, baseDir: opts.baseDir, policies });
}

/** Reads a YAML config file and validates it (see parseConfig). Any problem is a ConfigError. */
export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const fullPath = resolve(path);
  let text: string;
  try {
    text = await readFileAsync(fullPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'read error';
    throw new ConfigError([{ path: '', message: `cannot read config file "${fullPath}" (${code})` }]);
  }
  const issues: ConfigIssue[] = [];
  const raw = parseYaml(text, '', issues);
  if (raw === undefined) throw new ConfigError(issues);
  return parseConfig(raw, { baseDir: dirname(fullPath), env });
}

export type CheckConfigResult = { ok: true } | { ok: false; issues: ConfigIssue[] };

/** For `portcullis check-config FILE`: every problem, each naming its key path. */
export async function checkConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<CheckConfigResult> {
  try {
    await loadConfigFile(path, env);
    return { ok: true };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, issues: [...error.issues] };
    throw error;
  }
}
