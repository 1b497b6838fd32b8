import type { Config } from './index.js';
import { isPlainObject } from './resolve-values.js';

/** Key paths a reload applies in place; everything else was wired into long-lived parts at start. */
const APPLIED_IN_PLACE = new Set(['routes', 'policies', 'policies_dir', 'log.level', 'idp.access_token_audiences']);

/**
 * The key paths whose value differs between the running config and a new one and that only a
 * restart can apply (listen addresses, store, cookie secret, IdP client, …). Values are never
 * returned: some of them are secrets.
 */
export function restartNeeded(running: Config, next: Config): string[] {
  const paths: string[] = [];
  collect(running, next, '', paths);
  return paths;
}

function collect(a: unknown, b: unknown, path: string, out: string[]): void {
  if (APPLIED_IN_PLACE.has(path) || path === 'baseDir') return;
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      collect(a[key], b[key], path ? `${path}.${key}` : key, out);
    }
    return;
  }
  // arrays (idp.scopes) and scalars compare as a whole
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(path);
}

/** What a reload changed, as counts for its one log line. */
export function reloadSummary(running: Config, next: Config): { routes: number; routesChanged: number; policies: number; policiesChanged: number } {
  return {
    routes: next.routes.length,
    routesChanged: changedCount(running.routes, next.routes, (route) => route.from),
    policies: next.policies.length,
    policiesChanged: changedCount(running.policies, next.policies, (policy) => policy.name),
  };
}

/** added + removed + modified, matching entries by key */
function changedCount<T>(before: readonly T[], after: readonly T[], key: (item: T) => string): number {
  const old = new Map(before.map((item) => [key(item), JSON.stringify(item)]));
  let changed = 0;
  for (const item of after) {
    const previous = old.get(key(item));
    if (previous !== JSON.stringify(item)) changed += 1;
    old.delete(key(item));
  }
  return changed + old.size;
}
