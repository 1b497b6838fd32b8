import type { IncomingMessage } from 'node:http';
import { deleteCookie, readCookie, serializeCookie, type CookieOptions } from '../http/cookies.js';
import type { Clock } from '../lib/clock.js';
import { createSessionCookieCodec } from './cookie-codec.js';

/** The gateway cookie: reading it from a request, issuing it, deleting it (same name, path, domain). */
export interface SessionCookies {
  readonly name: string;
  /** undefined for a missing, garbage or tampered cookie: that simply means "no session" */
  read(req: IncomingMessage): { id: string; issuedAt: number } | undefined;
  issue(id: string, now: number, maxAgeSeconds: number): string;
  clear(): string;
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
      return value === undefined ? undefined : codec.decode(value);
    },
    issue(id, now, maxAgeSeconds) {
      return serializeCookie(options.name, codec.encode(id, now), { ...base, maxAgeSeconds });
    },
    clear() {
      return deleteCookie(options.name, base);
    },
  };
}
