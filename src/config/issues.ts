import type { z } from 'zod';
import type { ConfigIssue } from '../errors.js';

/**
 * Turns zod issues into operator-facing ConfigIssues: `routes[2].to: must be an http(s) URL`.
 * Messages never echo the offending value (it may be a secret).
 */

type ZodIssue = z.core.$ZodIssue;

const PLAIN_KEY = /^[A-Za-z0-9_$-]+$/;
/**
 * Keys are echoed so a typo can be found, but only key-sized ones: the longest key the config
 * knows is 25 characters (configure_keyspace_events). A longer or multi-line "key" is a piece of
 * the document that broken YAML turned into one, and that piece may hold a secret.
 */
const MAX_ECHOED_KEY = 28;
const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * `["routes", 2, "to"]` → `routes[2].to`. A prefix names the file the keys are in:
 * (`policies/eng.yaml`, `["allow", 0]`) → `policies/eng.yaml: allow[0]`.
 */
export function formatKeyPath(segments: readonly PropertyKey[], prefix = ''): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && (segment.length > MAX_ECHOED_KEY || !PRINTABLE.test(segment))) out += `[(a key of ${segment.length} characters)]`;
    // an odd key ("", "a.b", "x y") is quoted, so the path stays readable and never comes out empty
    else if (typeof segment === 'string' && !PLAIN_KEY.test(segment)) out += `[${JSON.stringify(segment)}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  if (prefix === '') return out;
  return out === '' ? prefix : `${prefix}: ${out}`;
}

function describeType(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping';
    default:
      return `a ${expected}`;
  }
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

function unionMessage(branches: readonly (readonly ZodIssue[])[]): string {
  const choices: string[] = [];
  let onlyValues = true;
  for (const branch of branches) {
    for (const issue of branch) {
      if (issue.path.length !== 0) continue;
      if (issue.code === 'invalid_value') choices.push(...issue.values.map(describeValue));
      else if (issue.code === 'invalid_type' && issue.expected === 'boolean') choices.push('true', 'false');
      else if (issue.code === 'invalid_type') {
        onlyValues = false;
        choices.push(describeType(issue.expected));
      }
    }
  }
  if (choices.length === 0) return 'is not valid here';
  return onlyValues ? `must be one of: ${choices.join(', ')}` : `must be ${choices.join(' or ')}`;
}

/** Per-parse zod error map: plain-English messages. Schema-level messages take precedence. */
export const zodMessages: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      if (issue.input === null) return `must be ${describeType(issue.expected)} (the value is empty)`;
      return `must be ${describeType(issue.expected)}`;
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return min === 1 ? 'must not be empty' : `must be at least ${min} characters long`;
      if (issue.origin === 'array') return min === 1 ? 'must not be empty' : `must have at least ${min} items`;
      return issue.inclusive === false ? `must be more than ${min}` : `must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${max} characters long`;
      if (issue.origin === 'array') return `must have at most ${max} items`;
      return issue.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${describeValue(issue.values[0])}`
        : `must be one of: ${issue.values.map(describeValue).join(', ')}`;
    case 'invalid_union':
      return unionMessage(issue.errors);
    case 'invalid_format':
      return 'has an invalid format';
    default:
      return undefined;
  }
};

/* ---- unknown-key hints: walk the schema to the object that refused the key ---- */

interface SchemaDef {
  type: string;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  shape?: Record<string, unknown>;
  options?: readonly unknown[];
  getter?: () => unknown;
}

function defOf(schema: unknown): SchemaDef | undefined {
  return (schema as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;
}

function unwrap(schema: unknown): unknown {
  for (let depth = 0; depth < 20; depth++) {
    const def = defOf(schema);
    if (!def) return schema;
    if (def.innerType !== undefined) schema = def.innerType;
    else if (def.type === 'pipe') schema = def.in;
    else if (def.type === 'lazy' && def.getter) schema = def.getter();
    else return schema;
  }
  return schema;
}

function allowedKeysAt(root: unknown, path: readonly PropertyKey[]): string[] | undefined {
  let schema = unwrap(root);
  for (const segment of path) {
    const def = defOf(schema);
    if (def?.type === 'array' && typeof segment === 'number') schema = unwrap(def.element);
    else if (def?.type === 'object' && typeof segment === 'string' && def.shape) schema = unwrap(def.shape[segment]);
    else return undefined;
  }
  const def = defOf(schema);
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function unknownKeyMessage(key: string, allowed: readonly string[] | undefined): string {
  if (!allowed || allowed.length === 0) return 'unknown key';
  const close = allowed.find((candidate) => editDistance(key.toLowerCase(), candidate) <= 2);
  if (close !== undefined) return `unknown key (did you mean "${close}"?)`;
  return `unknown key (allowed: ${allowed.join(', ')})`;
}

/**
 * Flattens zod issues into ConfigIssues. An unknown-keys issue becomes one issue per key; a
 * union whose one branch got past the type check reports that branch's precise issues.
 */
export function toConfigIssues(issues: readonly ZodIssue[], schema: unknown, prefix = '', base: readonly PropertyKey[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(schema, path);
      for (const key of issue.keys) out.push({ path: formatKeyPath([...path, key], prefix), message: unknownKeyMessage(key, allowed) });
      continue;
    }
    if (issue.code === 'invalid_union') {
      const deeper = issue.errors.filter((branch) => branch.length > 0 && branch.every((i) => i.path.length > 0));
      if (deeper.length === 1) {
        out.push(...toConfigIssues(deeper[0]!, schema, prefix, path));
        continue;
      }
    }
    out.push({ path: formatKeyPath(path, prefix), message: issue.message });
  }
  return out;
}
