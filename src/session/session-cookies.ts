import type { IncomingMessage } from 'node:http';
import { deleteCookie, hasDuplicateCookie, readCookie, serializeCookie, type CookieOptions } from '../http/cookies.js';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../lib/clock.js';
import { handleOf } from './ids.js';
import { createSessionCookieCodec } from './cookie-codec.js';
import { createCookieScope } from './cookie-scope.js';

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
  /**
   * `host` (the request's Host) matters only with cookie.domain: a host outside it gets a
   * host-only cookie (its handoff cookie), since browsers refuse a Domain they are not under.
   */
  issue(id: string, now: number, maxAgeSeconds: number, host?: string): string;
  clear(host?: string): string;
  /**
   * Deletions for every cookie of this name a browser could send on `rawPath`: Path=/ and each
   * ancestor path (with and without a trailing slash), host-only and on cookie.domain.
   */
  clearAround(rawPath: string, host?: string): string[];
}

export function createSessionCookies(options: {
  name: string;
  secret: string;
  domain: string;
  secure: boolean;
  sameSite: 'lax' | 'strict' | 'none';
  /** public_url's host: with cookie.domain, decides which hosts get host-only cookies instead */
  publicHost?: string;
  /** the gateway's clock: the codec refuses cookies issued in its future */
  clock?: Clock;
}): SessionCookies {
  const codec = createSessionCookieCodec(options.secret, options.clock ? { clock: options.clock } : undefined);
  // only values that verified are kept (a failed MAC is cheap to repeat and not worth a slot); a
  // value maps to one outcome forever, so a hit needs no new check. The codec's clock-skew rule
  // (issued in the future) only ever refuses, and a value it accepted once stays acceptable.
  const verified = new LRUCache<string, VerifiedCookie>({ max: VERIFIED_CACHE_ENTRIES });
  const scope = createCookieScope({ domain: options.domain, publicHost: options.publicHost ?? '' });
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
    issue(id, now, maxAgeSeconds, host) {
      return serializeCookie(options.name, codec.encode(id, now), { ...base, domain: scope.domainFor(host), maxAgeSeconds });
    },
    conflicting(req) {
      return hasDuplicateCookie(req.headers.cookie, options.name);
    },
    clear(host) {
      return deleteCookie(options.name, { ...base, domain: scope.domainFor(host) });
    },
    clearAround(rawPath, host) {
      const paths = new Set(['/']);
      const segments = rawPath.split('/').slice(1, 9);
      let path = '';
      for (const segment of segments) {
        if (!segment) break;
        path += `/${segment}`;
        paths.add(path).add(`${path}/`);
      }
      const scoped = scope.domainFor(host);
      const domains = scoped ? ['', scoped] : [''];
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
