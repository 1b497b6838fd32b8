import { createSealedBox, encryptionKeyFromMaterial, tokenKeyFromCookieSecret } from '../lib/sealed-box.js';
import type { SessionTokens } from './types.js';

export { encryptionKeyFromMaterial as tokenKeyFromMaterial, tokenKeyFromCookieSecret } from '../lib/sealed-box.js';

/** Tokens at rest: a sealed box with the session handle as AAD, so a blob copied under another handle does not open. */
export interface TokenCipher {
  seal(tokens: SessionTokens, aad: string): string;
  open(sealed: string, aad: string): SessionTokens | undefined;
}

/** The key material a store should use: the configured key, else one derived from the cookie secret. */
export function tokenKeyMaterial(encryptionKey: string | undefined, cookieSecret: string): string {
  return encryptionKey ?? tokenKeyFromCookieSecret(cookieSecret);
}

function isTokens(value: unknown): value is SessionTokens {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const optionalString = (k: string): boolean => v[k] === undefined || typeof v[k] === 'string';
  return typeof v.accessToken === 'string' && optionalString('refreshToken') && optionalString('idToken') && optionalString('tokenType');
}

export function createTokenCipher(keyMaterial: string): TokenCipher {
  const box = createSealedBox(encryptionKeyFromMaterial(keyMaterial));
  return {
    seal: (tokens, aad) => box.seal(JSON.stringify(tokens), aad),
    open(sealed, aad) {
      const plain = box.open(sealed, aad);
      if (plain === undefined) return undefined;
      try {
        const tokens: unknown = JSON.parse(plain);
        return isTokens(tokens) ? tokens : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
