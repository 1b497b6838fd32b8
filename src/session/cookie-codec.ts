import { createHmac, createSecretKey, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { systemClock, type Clock } from '../lib/clock.js';
import { SESSION_ID_LENGTH, isBase64Url32At, isSessionId } from './ids.js';

/**
 * The gateway cookie's value: `v1.<id>.<issuedAtSeconds base36>.<mac>`, where mac is
 * HMAC-SHA256 (base64url) over everything before the last dot. The id is the session secret;
 * issuedAt lets the request path decide when to renew the sliding cookie without a store write.
 */
export interface SessionCookieCodec {
  encode(id: string, issuedAtMs: number): string;
  /** undefined for anything that is not a value this codec's secret produced; never throws */
  decode(value: string): DecodedSessionCookie | undefined;
}

export interface DecodedSessionCookie {
  id: string;
  /** ms since epoch, whole seconds (the cookie carries seconds) */
  issuedAt: number;
}

export interface SessionCookieCodecOptions {
  clock?: Clock;
  /** how far in the future issuedAt may be (replicas' clocks differ a little); default 60s */
  maxClockSkewMs?: number;
}

const PREFIX = 'v1.';
/** HKDF info: the purpose label, so cookie.secret is never used directly or for two jobs */
const KEY_LABEL = 'portcullis session cookie mac v1';
const MIN_SECRET_BYTES = 32;
const MAC_LENGTH = 43; // 32 bytes, base64url
const MAX_TS_LENGTH = 8; // base36 seconds: 8 digits reach year ~90,000
const ID_START = PREFIX.length;
const ID_END = ID_START + SESSION_ID_LENGTH;
const TS_START = ID_END + 1;
const MIN_LENGTH = TS_START + 1 + 1 + MAC_LENGTH;
const MAX_LENGTH = TS_START + MAX_TS_LENGTH + 1 + MAC_LENGTH;
const DOT = 46;

export function createSessionCookieCodec(secret: string, options: SessionCookieCodecOptions = {}): SessionCookieCodec {
  if (typeof secret !== 'string' || Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new Error(`cookie.secret: must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  const clock = options.clock ?? systemClock;
  const maxSkewMs = options.maxClockSkewMs ?? 60_000;
  // a KeyObject made once: createHmac then skips importing raw key bytes on every request
  const key: KeyObject = createSecretKey(Buffer.from(hkdfSync('sha256', secret, '', KEY_LABEL, 32)));

  const mac = (signed: string): Buffer => createHmac('sha256', key).update(signed).digest();

  return {
    encode(id, issuedAtMs) {
      if (!isSessionId(id)) throw new TypeError('session id has the wrong shape');
      if (!Number.isFinite(issuedAtMs) || issuedAtMs < 0) throw new RangeError('issuedAtMs must be a time');
      const signed = `${PREFIX}${id}.${Math.floor(issuedAtMs / 1000).toString(36)}`;
      return `${signed}.${mac(signed).toString('base64url')}`;
    },

    decode(value) {
      // every check before the HMAC is a cheap char test on the original string, no copies
      if (typeof value !== 'string' || value.length < MIN_LENGTH || value.length > MAX_LENGTH) return undefined;
      if (!value.startsWith(PREFIX) || value.charCodeAt(ID_END) !== DOT) return undefined;
      const macDot = value.length - MAC_LENGTH - 1;
      if (value.charCodeAt(macDot) !== DOT) return undefined;
      if (!isBase64Url32At(value, ID_START) || !isBase64Url32At(value, macDot + 1)) return undefined;
      let seconds = 0;
      for (let i = TS_START; i < macDot; i++) {
        const digit = base36Digit(value.charCodeAt(i));
        if (digit < 0) return undefined;
        seconds = seconds * 36 + digit;
      }
      const expected = mac(value.slice(0, macDot));
      // canonical base64url of 32 bytes (checked above) decodes to exactly 32 bytes
      const given = Buffer.from(value.slice(macDot + 1), 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      const issuedAt = seconds * 1000;
      if (issuedAt > clock.now() + maxSkewMs) return undefined;
      return { id: value.slice(ID_START, ID_END), issuedAt };
    },
  };
}

/** 0–9 a–z → 0–35; -1 otherwise (upper case is refused: one spelling per value) */
function base36Digit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 87;
  return -1;
}
