import type { IncomingMessage } from 'node:http';
import { deleteCookie, hasDuplicateCookie, readCookie, serializeCookie, type CookieOptions } from '../http/cookies.js';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../lib/clock.js';
import { handleOf } from './ids.js';
import { createSessionCookieCodec } from './cookie-codec.js';

/** A cookie value this gateway issued: the session id, its store handle and when it was issued. */
export interface VerifiedCookie {
  readonly id: string;
  readonly handle: string;
  readonly issuedAt: number;
}

/** Verified values remembered, so a returning cookie costs no HMAC and no handle digest. */
const VERIFIED_CACHE_ENTRIES = 10_000;

/** The gateway cookie: reading it from a request, issuing it, deleting it (same name, path, domain). */
export interface SessionCookies {
  readonly name: string;
  /** undefined for a missing, garbage or tampered cookie: that simply means "no session" */
  read(req: IncomingMessage): VerifiedCookie | undefined;
  /** true when the request carries the cookie more than once (see hasDuplicateCookie) */
  conflicting(req: IncomingMessage): boolean;
  issue(id: string, now: number, maxAgeSeconds: number): string;
  clear(): string;
  /**
   * Deletions for every cookie of this name a browser could send on `rawPath`: Path=/ and each
   * ancestor path (with and without a trailing slash), host-only and on cookie.domain.
   */
  clearAround(rawPath: string): string[];
}

export function createSessionCookies(options: {
  name: string;
  secret: string;
  domain: string;
  secure: boolean;
  sameSite: 'lax' | 'strict' | 'none';
  /** the gateway's clock: the codec refuses cookies issued in its future */
  clock?: Clock;
}): SessionCookies {
  const codec = createSessionCookieCodec(options.secret, options.clock ? { clock: options.clock } : undefined);
  // only values that verified are kept (a failed MAC is cheap to repeat and not worth a slot); a
  // value maps to one outcome forever, so a hit needs no new check. The codec's clock-skew rule
  // (issued in the future) only ever refuses, and a value it accepted once stays acceptable.
  const verified = new LRUCache<string, VerifiedCookie>({ max: VERIFIED_CACHE_ENTRIES });
  const base: CookieOptions = {
    domain: options.domain,
    path: '/',
    secure: options.secure,
    httpOnly: true,
    sameSite: options.sameSite,
  };
  return {
    name: options.name,
    read(req) {
      const value = readCookie(req.headers.cookie, options.name);
      if (value === undefined) return undefined;
      const known = verified.get(value);
      if (known) return known;
      const decoded = codec.decode(value);
      if (!decoded) return undefined;
      const cookie: VerifiedCookie = Object.freeze({ id: decoded.id, handle: handleOf(decoded.id), issuedAt: decoded.issuedAt });
      verified.set(value, cookie);
      return cookie;
    },
    issue(id, now, maxAgeSeconds) {
      return serializeCookie(options.name, codec.encode(id, now), { ...base, maxAgeSeconds });
    },
    conflicting(req) {
      return hasDuplicateCookie(req.headers.cookie, options.name);
    },
    clear() {
      return deleteCookie(options.name, base);
    },
    clearAround(rawPath) {
      const paths = new Set(['/']);
      const segments = rawPath.split('/').slice(1, 9);
      let path = '';
      for (const segment of segments) {
        if (!segment) break;
        path += `/${segment}`;
        paths.add(path).add(`${path}/`);
      }
      const domains = options.domain ? ['', options.domain] : [''];
      const out: string[] = [];
      for (const domain of domains) {
        for (const p of paths) {
          // a path that cannot be a cookie attribute (";" or odd bytes) is simply not cleared
          try {
            out.push(deleteCookie(options.name, { ...base, domain, path: p }));
          } catch {
            // skip
          }
        }
      }
      return out;
    },
  };
}
