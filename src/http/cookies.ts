/** Cookie header parsing and Set-Cookie serialization (RFC 6265). */

export interface CookieOptions {
  /** seconds; omit for a browser-session cookie */
  maxAgeSeconds?: number;
  /** "" or undefined = host-only */
  domain?: string;
  path?: string;
  secure: boolean;
  httpOnly?: boolean;
  sameSite: 'lax' | 'strict' | 'none';
}

const MAX_COOKIE_HEADER = 16 * 1024;

/**
 * Parses a Cookie header. The first occurrence of a name wins (RFC 6265 §5.4 orders the more
 * specific path first). Malformed pairs are skipped, never thrown on.
 */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header || header.length > MAX_COOKIE_HEADER) return cookies;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    if (!name || cookies.has(name)) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    cookies.set(name, value);
  }
  return cookies;
}

/**
 * True when the Cookie header carries `name` more than once. Browsers send the cookie with the
 * longest Path first, so script on any page of the site (or a sibling subdomain, with a Domain
 * cookie) could otherwise put its own session ahead of the user's HttpOnly one.
 */
export function hasDuplicateCookie(header: string | undefined, name: string): boolean {
  if (!header || header.indexOf(name) === header.lastIndexOf(name)) return false;
  let seen = 0;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name && ++seen > 1) return true;
  }
  return false;
}

/**
 * One cookie's value, as parseCookies(header).get(name) would give it, without building the map
 * or any array (hot path: the session cookie on every request). Linear in the header: the next
 * "=" is searched once for all the pairs before it, so ";;;;…" cannot make it quadratic.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  // parseCookies keeps no nameless pair
  if (!header || !name || header.length > MAX_COOKIE_HEADER) return undefined;
  let eq = -1;
  for (let start = 0; start < header.length; ) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    if (eq < start) {
      eq = header.indexOf('=', start);
      if (eq === -1) return undefined;
    }
    // a pair starting with "=" has no name (parseCookies skips it); the first pair of `name` wins
    if (eq > start && eq < end && header.slice(start, eq).trim() === name) {
      const value = header.slice(eq + 1, end).trim();
      return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
    }
    start = end + 1;
  }
  return undefined;
}

/**
 * Removes the cookies whose name `drop` selects from a Cookie header, keeping the others.
 * Returns undefined when nothing is left.
 */
export function stripCookies(header: string, drop: (name: string) => boolean): string | undefined {
  // one split and a string built as it goes (no map/filter/join arrays): it runs on every request with cookies
  let kept = '';
  for (const raw of header.split(';')) {
    const part = raw.trim();
    if (part && !namesDropped(part, drop)) kept = kept ? `${kept}; ${part}` : part;
  }
  return kept || undefined;
}

/**
 * "a=b, _portcullis=v" is one pair to RFC 6265, but servers that still split on commas (RFC 2965
 * style) would read the gateway cookie in it: such a pair goes as a whole.
 */
function namesDropped(part: string, drop: (name: string) => boolean): boolean {
  for (let start = 0; ; ) {
    const comma = part.indexOf(',', start);
    const piece = comma === -1 ? part.slice(start) : part.slice(start, comma);
    const eq = piece.indexOf('=');
    if (drop((eq === -1 ? piece : piece.slice(0, eq)).trim())) return true;
    if (comma === -1) return false;
    start = comma + 1;
  }
}

/**
 * The gateway's cookie namespace: the session cookie `<name>` and every `<name>_…` (sign-in
 * transactions). Upstreams never see these and may never set them.
 */
export function createCookieNamespace(cookieName: string): (name: string) => boolean {
  const prefix = `${cookieName}_`;
  return (name) => name === cookieName || name.startsWith(prefix);
}

/**
 * The name a browser stores for a Set-Cookie value (RFC 6265 §5.2; what browsers do): the pair
 * ends at the first ";", the name at the first "=", whitespace around it is dropped, and a pair
 * without "=" is a cookie with an empty name.
 */
export function setCookieName(setCookie: string): string {
  const semi = setCookie.indexOf(';');
  const pair = semi === -1 ? setCookie : setCookie.slice(0, semi);
  const eq = pair.indexOf('=');
  return eq === -1 ? '' : pair.slice(0, eq).trim();
}

const VALUE_OK = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;

export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  if (!VALUE_OK.test(value)) throw new TypeError(`cookie ${name}: value has characters a cookie cannot carry`);
  const parts = [`${name}=${value}`, `Path=${options.path ?? '/'}`];
  if (options.domain) parts.push(`Domain=${options.domain}`);
  if (options.maxAgeSeconds !== undefined) {
    const seconds = Math.max(0, Math.floor(options.maxAgeSeconds));
    parts.push(`Max-Age=${seconds}`);
    parts.push(`Expires=${new Date(Date.now() + seconds * 1000).toUTCString()}`);
  }
  if (options.httpOnly !== false) parts.push('HttpOnly');
  if (options.secure) parts.push('Secure');
  parts.push(`SameSite=${options.sameSite[0]!.toUpperCase()}${options.sameSite.slice(1)}`);
  return parts.join('; ');
}

/** Deletion repeats the same name, path and domain, with an empty value and Max-Age=0. */
export function deleteCookie(name: string, options: CookieOptions): string {
  return serializeCookie(name, '', { ...options, maxAgeSeconds: 0 });
}
