import { createHash } from 'node:crypto';
import type { JWK } from 'jose';
import { publicPart } from './key-material.js';

/** The JWKS response body and its strong ETag, built once per change of the published keys. */
export interface JwksDocument {
  body: string;
  etag: string;
  kids: readonly string[];
}

/**
 * The ETag is a digest of the body, so it changes exactly when the published keys change, and
 * two replicas holding the same keys answer with the same ETag (a verifier behind a load
 * balancer revalidates with 304s instead of refetching on every replica switch).
 */
export function buildJwks(keys: readonly { kid: string; publicJwk: JWK }[]): JwksDocument {
  const body = JSON.stringify({ keys: keys.map((k) => publicPart(k.publicJwk, k.kid)) });
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
  return { body, etag, kids: keys.map((k) => k.kid) };
}

/** If-None-Match (RFC 9110 §13.1.2): weak comparison over a list, or "*". */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  for (const candidate of ifNoneMatch.split(',')) {
    const tag = candidate.trim();
    if (tag === etag || tag === `W/${etag}`) return true;
  }
  return false;
}
