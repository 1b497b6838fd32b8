import { resolve } from 'node:path';
import type { ConfigIssue } from '../errors.js';
import { formatKeyPath } from './issues.js';

/**
 * Resolution that happens before the schema sees the document: `${env:NAME}` references in
 * string values and `*_file` secret keys. Problems are collected, never thrown, and never
 * include the resolved value.
 */

const ENV_REF = /\$\{env:([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Keys whose value may instead come from a file named by `<key>_file` in the same mapping. */
const SECRET_FILE_KEYS: readonly (readonly [section: string, key: string])[] = [
  ['idp', 'client_secret'],
  ['cookie', 'secret'],
  ['session', 'encryption_key'],
];

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** defineProperty keeps a `__proto__` key an ordinary own key (the schema then refuses it). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function interpolateString(
  text: string,
  env: NodeJS.ProcessEnv,
  report: (message: string) => void,
): string {
  if (!text.includes('${')) return text;
  const replaced = text.replace(ENV_REF, (whole, name: string) => {
    if (!ENV_NAME.test(name)) {
      report(`"\${env:${name}}" is not a valid environment variable reference`);
      return whole;
    }
    const value = env[name];
    if (value === undefined) {
      report(`environment variable ${name} is not set`);
      return whole;
    }
    return value;
  });
  // an unterminated reference would otherwise pass through as a literal and surprise later
  if (/\$\{env:[^}]*$/.test(text)) report('has an unterminated "${env:" reference');
  return replaced;
}

/**
 * Returns a fresh copy of `value` with every `${env:NAME}` in string values replaced.
 * Keys are left alone. Issues name the key path (after `prefix`, e.g. a policy file name).
 */
export function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
  prefix = '',
  path: PropertyKey[] = [],
): unknown {
  if (typeof value === 'string') {
    return interpolateString(value, env, (message) => issues.push({ path: formatKeyPath(path, prefix), message }));
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => interpolateEnv(item, env, issues, prefix, [...path, index]));
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) setOwn(out, key, interpolateEnv(item, env, issues, prefix, [...path, key]));
    return out;
  }
  return value;
}

function readSecret(
  file: string,
  baseDir: string,
  readFile: (p: string) => string,
): { ok: true; value: string } | { ok: false; message: string } {
  const fullPath = resolve(baseDir, file);
  let content: string;
  try {
    content = readFile(fullPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'read error';
    return { ok: false, message: `cannot read "${fullPath}" (${code})` };
  }
  // editors and `echo` add a final newline that is never part of the secret
  const value = content.replace(/(?:\r?\n)+$/, '');
  if (value === '') return { ok: false, message: `file "${fullPath}" is empty` };
  return { ok: true, value };
}

/**
 * Replaces `<key>_file` with `<key>` (the file's content) in place, on a tree that
 * interpolateEnv already copied.
 */
export function resolveSecretFiles(
  root: unknown,
  baseDir: string,
  readFile: (p: string) => string,
  issues: ConfigIssue[],
): void {
  if (!isPlainObject(root)) return;
  for (const [sectionName, key] of SECRET_FILE_KEYS) {
    const section = root[sectionName];
    const fileKey = `${key}_file`;
    if (!isPlainObject(section) || !Object.hasOwn(section, fileKey)) continue;
    const file = section[fileKey];
    delete section[fileKey];
    const issuePath = formatKeyPath([sectionName, fileKey]);
    if (section[key] !== undefined) {
      issues.push({ path: issuePath, message: `give either ${key} or ${fileKey}, not both` });
      continue;
    }
    if (typeof file !== 'string' || file === '') {
      issues.push({ path: issuePath, message: 'must be a file path' });
      continue;
    }
    const secret = readSecret(file, baseDir, readFile);
    if (secret.ok) setOwn(section, key, secret.value);
    else issues.push({ path: issuePath, message: secret.message });
  }
}
