import { isIP } from 'node:net';

/**
 * A browser-like cookie jar, roughly RFC 6265 (bis): host-only vs Domain cookies, Path,
 * Max-Age/Expires, Secure (http://localhost counts as secure, as in Chromium) and SameSite.
 */
export interface StoredCookie {
  name: string;
  value: string;
  /** lower-case host (host-only) or domain without the leading dot */
  domain: string;
  hostOnly: boolean;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite: 'strict' | 'lax' | 'none';
  /** ms since epoch; undefined = session cookie */
  expiresAt?: number;
  /** raw attributes as received, e.g. { path: '/', 'max-age': '0' } */
  attributes: Record<string, string>;
}

/** Everything about a request that decides which cookies go with it. */
export interface CookieRequestContext {
  url: URL;
  method: string;
  /** true when the request (or any hop of its redirect chain) is cross-site */
  crossSite: boolean;
}

/** Chromium treats localhost and all of 127/8 as potentially trustworthy (Secure cookies allowed over http). */
function isSecureOrigin(url: URL): boolean {
  const host = url.hostname;
  return url.protocol === 'https:' || host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Approximate site: the registrable domain is taken as the last two labels; IPs stand alone. */
export function siteOf(url: URL): string {
  const host = url.hostname.toLowerCase();
  if (isIP(host.replace(/^\[|\]$/g, '')) || !host.includes('.')) return `${url.protocol}//${host}`;
  return `${url.protocol}//${host.split('.').slice(-2).join('.')}`;
}

function domainMatches(host: string, domain: string): boolean {
  return host === domain || (host.endsWith(`.${domain}`) && isIP(host) === 0);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function defaultPath(url: URL): string {
  const path = url.pathname;
  if (!path.startsWith('/') || path.lastIndexOf('/') === 0) return '/';
  return path.slice(0, path.lastIndexOf('/'));
}

export class CookieJar {
  private readonly cookies = new Map<string, StoredCookie>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Stores one Set-Cookie header received from `url`; returns the cookie or undefined if refused. */
  set(url: URL, header: string): StoredCookie | undefined {
    const [pair = '', ...rest] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const attributes: Record<string, string> = {};
    for (const part of rest) {
      const i = part.indexOf('=');
      const key = (i === -1 ? part : part.slice(0, i)).trim().toLowerCase();
      if (key) attributes[key] = i === -1 ? '' : part.slice(i + 1).trim();
    }
    const host = url.hostname.toLowerCase();
    let domain = host;
    let hostOnly = true;
    if (attributes.domain) {
      const wanted = attributes.domain.replace(/^\./, '').toLowerCase();
      if (!domainMatches(host, wanted)) return undefined;
      domain = wanted;
      hostOnly = false;
    }
    const secure = 'secure' in attributes;
    if (secure && !isSecureOrigin(url)) return undefined;
    let expiresAt: number | undefined;
    if (attributes['max-age'] !== undefined && /^-?\d+$/.test(attributes['max-age'])) {
      expiresAt = this.now() + Number(attributes['max-age']) * 1000;
    } else if (attributes.expires) {
      const at = Date.parse(attributes.expires);
      if (!Number.isNaN(at)) expiresAt = at;
    }
    const sameSiteRaw = (attributes.samesite ?? 'lax').toLowerCase();
    const sameSite = sameSiteRaw === 'strict' || sameSiteRaw === 'none' ? sameSiteRaw : 'lax';
    const path = attributes.path?.startsWith('/') ? attributes.path : defaultPath(url);
    const cookie: StoredCookie = {
      name,
      value,
      domain,
      hostOnly,
      path,
      secure,
      httpOnly: 'httponly' in attributes,
      sameSite,
      expiresAt,
      attributes,
    };
    const key = `${domain};${path};${name}`;
    if (expiresAt !== undefined && expiresAt <= this.now()) {
      this.cookies.delete(key);
      return cookie;
    }
    this.cookies.set(key, cookie);
    return cookie;
  }

  /** The cookies a browser would send with this request, most specific path first. */
  matching(request: CookieRequestContext): StoredCookie[] {
    const host = request.url.hostname.toLowerCase();
    const now = this.now();
    const out: StoredCookie[] = [];
    for (const [key, cookie] of this.cookies) {
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= now) {
        this.cookies.delete(key);
        continue;
      }
      if (cookie.hostOnly ? host !== cookie.domain : !domainMatches(host, cookie.domain)) continue;
      if (!pathMatches(request.url.pathname || '/', cookie.path)) continue;
      if (cookie.secure && !isSecureOrigin(request.url)) continue;
      if (request.crossSite) {
        if (cookie.sameSite === 'strict') continue;
        // Lax: only top-level "safe" navigations carry it across sites
        if (cookie.sameSite === 'lax' && request.method !== 'GET' && request.method !== 'HEAD') continue;
      }
      out.push(cookie);
    }
    return out.sort((a, b) => b.path.length - a.path.length);
  }

  header(request: CookieRequestContext): string | undefined {
    const cookies = this.matching(request);
    return cookies.length ? cookies.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  /** Every stored cookie (optionally only those named `name`). */
  all(name?: string): StoredCookie[] {
    return [...this.cookies.values()].filter((c) => name === undefined || c.name === name);
  }

  /** Puts a cookie in by hand (e.g. to replay an old one). */
  put(cookie: Omit<StoredCookie, 'attributes'> & { attributes?: Record<string, string> }): void {
    this.cookies.set(`${cookie.domain};${cookie.path};${cookie.name}`, { attributes: {}, ...cookie });
  }

  delete(name: string): void {
    for (const [key, cookie] of this.cookies) if (cookie.name === name) this.cookies.delete(key);
  }

  clear(): void {
    this.cookies.clear();
  }
}
