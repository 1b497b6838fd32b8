import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random base64url token of `bytes` bytes (32 bytes = 256 bits). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** sha256, base64url, truncated to `chars` characters. */
export function digest(value: string, chars = 43): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, chars);
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Uniform jitter in [-fraction, +fraction] of `ms`. */
export function jitter(ms: number, fraction: number, random: () => number = Math.random): number {
  return Math.round(ms * fraction * (2 * random() - 1));
}
