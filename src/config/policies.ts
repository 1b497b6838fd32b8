import { readdirSync, readFileSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import type { ConfigIssue } from '../errors.js';
import { toConfigIssues, zodMessages } from './issues.js';
import { type PolicyDocument, policySchema } from './policy-schema.js';
import { interpolateEnv, isPlainObject } from './resolve-values.js';
import { parseYaml } from './yaml-source.js';

export interface PolicySource {
  /** policies_dir as written in the config (used in messages) */
  dir: string;
  baseDir: string;
  env: NodeJS.ProcessEnv;
  readFile: (p: string) => string;
  listDir: (p: string) => string[];
}

export type PoliciesResult =
  /** names: every policy name seen, including those of files with problems */
  | { ok: true; policies: PolicyDocument[]; names: Set<string>; files: Map<string, string> }
  /** the directory itself could not be read (issues say why) */
  | { ok: false; missing: boolean };

const POLICY_FILE = /\.ya?ml$/i;

/**
 * Reads and validates every `*.yaml`/`*.yml` in the policies directory. Each issue names the
 * file and the key path: `policies/eng.yaml: allow[0].email_domain: must be …`.
 */
export function loadPolicies(source: PolicySource, issues: ConfigIssue[]): PoliciesResult {
  const fullDir = resolve(source.baseDir, source.dir);
  let files: string[];
  try {
    files = source.listDir(fullDir).filter((name) => POLICY_FILE.test(name) && !name.startsWith('.'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const missing = code === 'ENOENT' || code === 'ENOTDIR';
    issues.push({
      path: 'policies_dir',
      message: missing ? `directory "${fullDir}" does not exist` : `cannot read directory "${fullDir}" (${code ?? 'read error'})`,
    });
    return { ok: false, missing };
  }

  const policies: PolicyDocument[] = [];
  const firstFileByName = new Map<string, string>();
  const names = new Set<string>();
  for (const name of files.sort()) {
    const label = posix.join(source.dir.replaceAll('\\', '/'), name);
    let text: string;
    try {
      text = source.readFile(resolve(fullDir, name));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'read error';
      issues.push({ path: label, message: `cannot read file (${code})` });
      continue;
    }
    const raw = parseYaml(text, label, issues);
    if (raw === undefined) continue;
    const envIssues: ConfigIssue[] = [];
    const resolved = interpolateEnv(raw, source.env, envIssues, label);
    issues.push(...envIssues);
    const parsed = policySchema.safeParse(resolved, { error: zodMessages });
    const rawName = isPlainObject(resolved) ? resolved['name'] : undefined;
    // a route naming a policy whose file has problems should not also read as "no such policy"
    if (typeof rawName === 'string') names.add(rawName);
    if (!parsed.success) {
      const unresolved = new Set(envIssues.map((issue) => issue.path));
      issues.push(...toConfigIssues(parsed.error.issues, policySchema, label).filter((i) => !unresolved.has(i.path)));
      continue;
    }
    const first = firstFileByName.get(parsed.data.name);
    if (first !== undefined) {
      issues.push({ path: `${label}: name`, message: `policy "${parsed.data.name}" is already defined in ${first}` });
      continue;
    }
    firstFileByName.set(parsed.data.name, label);
    policies.push(parsed.data);
  }
  return { ok: true, policies, names, files: firstFileByName };
}

export const nodePolicyFs = {
  readFile: (p: string): string => readFileSync(p, 'utf8'),
  listDir: (p: string): string[] => readdirSync(p),
};
