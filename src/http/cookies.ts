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

/** Finds one cookie without building the whole map (hot path). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > MAX_COOKIE_HEADER) return undefined;
  return parseCookies(header).get(name);
}

/**
 * Removes the cookies whose name `drop` selects from a Cookie header, keeping the others.
 * Returns undefined when nothing is left.
 */
export function stripCookies(header: string, drop: (name: string) => boolean): string | undefined {
  const kept = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => {
      if (!part) return false;
      // "a=b, _portcullis=v" is one pair to RFC 6265, but servers that still split on commas
      // (RFC 2965 style) would read the gateway cookie in it: such a pair goes as a whole
      return !part.split(',').some((piece) => {
        const eq = piece.indexOf('=');
        return drop((eq === -1 ? piece : piece.slice(0, eq)).trim());
      });
    });
  return kept.length ? kept.join('; ') : undefined;
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
