/**
 * Request path normalization: the one canonical form that routes and policies match against, so
 * `/a/../admin`, `/%61dmin` and `//admin` all meet the rules written for `/admin`.
 *
 * Refused (undefined → 400) because an upstream may read them differently from us and so walk
 * around a path rule:
 * - malformed percent-encoding and NUL (raw or `%00`);
 * - backslashes, raw or `%5C` (some servers treat `\` as `/`; browsers never send a raw one);
 * - encoded slashes `%2F` (an upstream that decodes them sees `/admin/x` where we saw one segment
 *   `admin%2Fx`, which a deny on `/admin` would not cover);
 * - dot segments carrying path parameters (`..;`, `.;`), which Tomcat-style servers resolve as `..`;
 * - path parameters (`;`) in any segment but the last: Tomcat and Spring read `/docs;x/secret` as
 *   `/docs/secret`, Express and `new URL()` as a segment `docs;x`. In the last segment they are
 *   harmless (`pathHasPrefix` treats `;` as a boundary), and Tomcat's `;jsessionid=` lives there;
 * - encoded control characters (`%00`–`%1F`, `%7F`), which some servers trim or split on;
 * - a segment ending in `.` or an encoded space (`/admin.`, `/admin%20`), which IIS and Windows
 *   file mapping trim, so they would serve `/admin`.
 * A raw `#` never reaches here: the request target is refused before (a fragment is not part of
 * a request target, RFC 9112 §3.2, and parseurl or `new URL()` would cut the path at it).
 *
 * Letter case is kept (most upstreams are case-sensitive); `caseConfusable` finds the paths that a
 * case-insensitive upstream would read as a configured prefix that we did not match.
 */

const HEX = '0123456789ABCDEF';

/** Unreserved characters (RFC 3986 §2.3) are decoded; every other escape is kept, uppercased. */
const UNRESERVED: readonly boolean[] = (() => {
  const table: boolean[] = [];
  for (let c = 0; c < 128; c++) {
    table[c] =
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x30 && c <= 0x39) || // 0-9
      c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e; // - . _ ~
  }
  return table;
})();

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * Normalizes the path part of a request target (no query). Returns the input itself when it has
 * nothing to normalize (no `%`, `//` or `/.`), so the common case allocates nothing.
 */
export function normalizePath(rawPath: string): string | undefined {
  if (rawPath.charCodeAt(0) !== 0x2f) return undefined;
  const length = rawPath.length;
  let parameter = false;
  for (let i = 0; i < length; i++) {
    const c = rawPath.charCodeAt(i);
    if (c === 0x25) return slowNormalize(rawPath);
    if (c === 0x5c || c === 0 || c === 0x23) return undefined;
    if (c === 0x3b) parameter = true;
    else if (c === 0x2f) {
      if (parameter) return undefined;
      // a segment ending in "." (IIS trims it) takes the slow path, which refuses it
      if (i > 1 && rawPath.charCodeAt(i - 1) === 0x2e) return slowNormalize(rawPath);
      const next = rawPath.charCodeAt(i + 1);
      if (next === 0x2f || next === 0x2e) return slowNormalize(rawPath);
    }
  }
  if (length > 1 && rawPath.charCodeAt(length - 1) === 0x2e) return slowNormalize(rawPath);
  return rawPath;
}

function slowNormalize(rawPath: string): string | undefined {
  const decoded = decodeUnreserved(rawPath);
  if (decoded === undefined) return undefined;

  const parts = decoded.split('/');
  const out: string[] = [];
  // parts[0] is the empty string before the leading slash
  for (let i = 1; i < parts.length; i++) {
    const segment = parts[i]!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      out.pop(); // never above the root
      continue;
    }
    if (segment.startsWith('..;') || segment.startsWith('.;')) return undefined;
    // IIS and Windows file mapping trim trailing dots and spaces: `/admin.` and `/admin%20` are `/admin`
    if (segment.endsWith('.') || segment.endsWith('%20')) return undefined;
    // a parameter is allowed in the last segment only (see the file comment)
    if (i < parts.length - 1 && segment.includes(';')) return undefined;
    out.push(segment);
  }
  const last = parts[parts.length - 1];
  const trailingSlash = parts.length > 1 && (last === '' || last === '.' || last === '..');
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}

function decodeUnreserved(rawPath: string): string | undefined {
  let result = '';
  let copiedUpTo = 0;
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i);
    if (c === 0 || c === 0x5c || c === 0x23) return undefined;
    if (c !== 0x25) continue;
    const hi = hexValue(rawPath.charCodeAt(i + 1));
    const lo = hexValue(rawPath.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return undefined;
    const byte = hi * 16 + lo;
    if (byte < 0x20 || byte === 0x7f || byte === 0x2f || byte === 0x5c) return undefined;
    result += rawPath.slice(copiedUpTo, i);
    result += UNRESERVED[byte] === true ? String.fromCharCode(byte) : '%' + HEX[hi]! + HEX[lo]!;
    i += 2;
    copiedUpTo = i + 1;
  }
  return result + rawPath.slice(copiedUpTo);
}

/**
 * Whole-segment prefix test on normalized paths: `/app` covers `/app`, `/app/`, `/app/x` and
 * `/app;param` (a path parameter does not start a new resource), never `/apps`.
 * `prefix` is "" or "/" (everything) or a normalized path without a trailing slash.
 */
export function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix.length <= 1) return true;
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 0x2f || next === 0x3b;
}

/**
 * Canonical form of a configured path prefix: normalized, without a trailing slash; "" for the
 * root. Undefined when the prefix is not a valid absolute path.
 */
export function canonicalPathPrefix(prefix: string): string | undefined {
  const normalized = normalizePath(prefix);
  if (normalized === undefined) return undefined;
  return normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/**
 * The path as a case-insensitive upstream compares it: one percent-decoding (UTF-8) and Unicode
 * case folding through upper then lower case, so `ſ` (long s) and the Kelvin sign fold like the
 * ASCII letters that .NET's ToUpperInvariant and JavaScript's toLowerCase map them to.
 */
export function foldCase(path: string): string {
  let plainAscii = true;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 || c > 0x7e) {
      plainAscii = false;
      break;
    }
  }
  if (plainAscii) return path.toLowerCase();
  // decode escapes byte by byte: valid UTF-8 runs become their characters and fold like them,
  // while a stray invalid byte (%FF) only becomes U+FFFD instead of stopping the whole decode
  const bytes: number[] = [];
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    const hi = c === 0x25 ? hexValue(path.charCodeAt(i + 1)) : -1;
    const lo = c === 0x25 ? hexValue(path.charCodeAt(i + 2)) : -1;
    if (hi >= 0 && lo >= 0) {
      bytes.push(hi * 16 + lo);
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else for (const b of Buffer.from(path[i]!, 'utf8')) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8').toUpperCase().toLowerCase();
}

/** Answers "would a case-insensitive upstream read this path as under one of these prefixes?" */
export interface CaseGuard {
  /**
   * True when `path` is not under some prefix but a case-insensitive upstream (Express and
   * ASP.NET route that way by default) would read it as under it: `/docs/SECRET/k` against
   * `/docs/secret`. Such a path is refused: it would be routed or judged as another path than
   * the one the upstream serves.
   */
  confusable(path: string): boolean;
}

const NEVER_CONFUSED: CaseGuard = Object.freeze({ confusable: () => false });

/** `prefixes` are canonical (see canonicalPathPrefix); "" and "/" cover everything and never confuse. */
export function createCaseGuard(prefixes: Iterable<string>): CaseGuard {
  const entries = [...new Set(prefixes)].filter((p) => p.length > 1).map((prefix) => ({ prefix, folded: foldCase(prefix) }));
  if (entries.length === 0) return NEVER_CONFUSED;
  // a lower-case ASCII path folds to itself; it can only confuse a prefix that does not
  const prefixFoldsDiffer = entries.some((e) => e.folded !== e.prefix);
  return Object.freeze({
    confusable(path: string): boolean {
      if (!prefixFoldsDiffer && !mayFoldDifferently(path)) return false;
      const folded = foldCase(path);
      for (const { prefix, folded: foldedPrefix } of entries) {
        if (pathHasPrefix(folded, foldedPrefix) && !pathHasPrefix(path, prefix)) return true;
      }
      return false;
    },
  });
}

/** Cheap test for the hot path: upper-case ASCII, an escape, or non-ASCII. */
function mayFoldDifferently(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c === 0x25 || c > 0x7e) return true;
  }
  return false;
}
