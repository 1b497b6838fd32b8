import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';

/**
 * AES-256-GCM with a random 96-bit IV per seal and caller-chosen additional authenticated data,
 * so a blob copied under another name does not open. Format: "v1." + base64url(iv ‖ ciphertext ‖ tag).
 * Session tokens and signing keys at rest both use it, each under a key of its own.
 */
export interface SealedBox {
  seal(plaintext: string, aad: string): string;
  /** undefined when the key, the AAD or the bytes are wrong (never says which) */
  open(sealed: string, aad: string): string | undefined;
}

const VERSION = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const HKDF_SALT = 'portcullis';
/** HKDF "info" labels: one purpose each, so no two uses of a secret share a key */
const PURPOSE_PASSPHRASE = 'portcullis session-token encryption key v1';
const PURPOSE_COOKIE_SECRET = 'portcullis session-token encryption from cookie.secret v1';

const BASE64_32 = /^(?:[A-Za-z0-9+/]{43}=?|[A-Za-z0-9_-]{43})$/;

function hkdf(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), HKDF_SALT, info, KEY_BYTES));
}

/**
 * `session.encryption_key`: 32 bytes written as base64/base64url (used as is), or any string of
 * at least 32 characters (stretched with HKDF-SHA256). Throws a message naming the config key.
 */
export function encryptionKeyFromMaterial(keyMaterial: string): Buffer {
  if (BASE64_32.test(keyMaterial)) {
    const key = Buffer.from(keyMaterial.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  if (keyMaterial.length >= KEY_BYTES) return hkdf(keyMaterial, PURPOSE_PASSPHRASE);
  throw new ConfigError([
    { path: 'session.encryption_key', message: 'must be 32 bytes in base64/base64url, or a string of at least 32 characters' },
  ]);
}

/** Without `session.encryption_key`, the key is derived from `cookie.secret` under its own purpose label. */
export function tokenKeyFromCookieSecret(cookieSecret: string): string {
  return hkdf(cookieSecret, PURPOSE_COOKIE_SECRET).toString('base64url');
}

export function createSealedBox(key: Buffer): SealedBox {
  return {
    seal(plaintext, aad) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return VERSION + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
    },
    open(sealed, aad) {
      if (!sealed.startsWith(VERSION)) return undefined;
      const raw = Buffer.from(sealed.slice(VERSION.length), 'base64url');
      if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(aad, 'utf8'));
        decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
        return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
  };
}
