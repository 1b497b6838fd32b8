import { digest, randomToken } from '../lib/random.js';

/**
 * Session ids and handles. The id is the secret the cookie carries (32 random bytes); the
 * handle is its digest, the public name used as the store key, in tombstones, logs, the
 * sessions API and metrics. Knowing a handle therefore never lets anyone forge the cookie.
 */

const ID_BYTES = 32;
/** base64url of 32 bytes without padding */
export const SESSION_ID_LENGTH = 43;
/** 22 base64url characters = 132 bits of sha256, of which we count on 128 */
export const SESSION_HANDLE_LENGTH = 22;

export function newSessionId(): string {
  return randomToken(ID_BYTES);
}

/** The public handle of a session id: sha256(id), base64url, 22 characters. */
export function handleOf(id: string): string {
  return digest(id, SESSION_HANDLE_LENGTH);
}

/** Is `code` the char code of a base64url alphabet character (A–Z a–z 0–9 - _)? */
export function isBase64UrlCode(code: number): boolean {
  return (
    (code >= 65 && code <= 90) || // A-Z
    (code >= 97 && code <= 122) || // a-z
    (code >= 48 && code <= 57) || // 0-9
    code === 45 || // -
    code === 95 // _
  );
}

/** True when every character of value[start, end) is base64url; no allocation (hot path). */
export function isBase64UrlRange(value: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isBase64UrlCode(value.charCodeAt(i))) return false;
  return true;
}

/**
 * 43 base64url characters carry 258 bits; for 32 bytes the last character's low 2 bits must
 * be zero. Checking it keeps a value canonical: one byte string, exactly one spelling.
 */
const CANONICAL_LAST = new Set('AEIMQUYcgkosw048');

/** Is value[start, start + 43) the canonical base64url spelling of 32 bytes? No allocation. */
export function isBase64Url32At(value: string, start: number): boolean {
  const end = start + SESSION_ID_LENGTH;
  return value.length >= end && isBase64UrlRange(value, start, end) && CANONICAL_LAST.has(value[end - 1]!);
}

/** Shape check of a session id as read from a cookie (43 canonical base64url chars). */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && value.length === SESSION_ID_LENGTH && isBase64Url32At(value, 0);
}

/** Shape check of a handle as read from a URL (`DELETE /.portcullis/sessions/{id}`) or the CLI. */
export function isSessionHandle(value: unknown): value is string {
  return typeof value === 'string' && value.length === SESSION_HANDLE_LENGTH && isBase64UrlRange(value, 0, SESSION_HANDLE_LENGTH);
}
