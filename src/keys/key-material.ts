import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { randomToken } from '../lib/random.js';
import type { StoredKey } from './types.js';

export const ALGORITHM = 'ES256';

/** A fresh ES256 key pair with a random kid, published at once and signing from `activatesAt`. */
export async function generateStoredKey(createdAt: number, activatesAt: number): Promise<StoredKey> {
  // extractable so the private half can be sealed into the shared store for the other replicas
  const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const kid = randomToken(16);
  const pub = await exportJWK(publicKey);
  const publicJwk: JWK = { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid, alg: ALGORITHM, use: 'sig' };
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: ALGORITHM };
  return { kid, createdAt, activatesAt, publicJwk, privateJwk };
}

/** The private JWK as a non-extractable signing key. */
export async function importPrivateKey(privateJwk: JWK): Promise<CryptoKey> {
  const key = await importJWK(privateJwk, ALGORITHM, { extractable: false });
  if (key instanceof Uint8Array) throw new TypeError('a signing key must be an EC private key');
  return key;
}

/** Only the members a verifier needs: never `d`, whatever a store handed back. */
export function publicPart(jwk: JWK, kid: string): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: ALGORITHM, use: 'sig' };
}
