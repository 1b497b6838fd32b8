import { normalizePath } from '../lib/path.js';
import type { RouteTable } from './types.js';

/**
 * Validates a post-login redirect target (`rd`), the classic open-redirect hole. Accepted:
 * an absolute http(s) URL on a configured route, or a path starting with exactly one "/"
 * resolved against public_url and then on a configured route. Everything else is refused:
 * `//evil`, `/\evil`, `\\evil`, `https:evil`, `javascript:`, credentials, control characters,
 * whitespace, and hosts or paths that no route serves.
 */

// whitespace and controls (which URL parsers strip or fold), and backslashes (which they turn into "/")
const FORBIDDEN = /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff\\]/;
const ABSOLUTE = /^https?:\/\/[^/]/i;

export function isRedirectAllowed(table: RouteTable, target: string, publicUrl: URL): URL | undefined {
  if (target.length === 0 || target.length > 4096 || FORBIDDEN.test(target)) return undefined;

  let url: URL;
  if (target.charCodeAt(0) === 0x2f) {
    if (target.charCodeAt(1) === 0x2f) return undefined; // "//evil" is scheme-relative
    try {
      url = new URL(target, publicUrl.origin);
    } catch {
      return undefined;
    }
    if (url.origin !== publicUrl.origin) return undefined;
  } else {
    if (!ABSOLUTE.test(target)) return undefined;
    try {
      url = new URL(target);
    } catch {
      return undefined;
    }
  }

  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  const path = normalizePath(url.pathname);
  if (path === undefined) return undefined;
  const route = table.match(url.protocol === 'https:' ? 'https' : 'http', url.host, path);
  return route === undefined ? undefined : url;
}
