import { SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import { ALGORITHM } from './key-material.js';
import type { KeyManager, SigningKey } from './key-manager.js';

/** The part of a session an assertion speaks about (keys/ does not depend on session/). */
export interface AssertionSubject {
  /** the session's public handle: the `sid` claim (never the secret session id) */
  handle: string;
  user: { sub: string; email?: string; groups: readonly string[] };
  /**
   * Set for a request admitted by a bearer access token: `handle` is then only a cache key (a
   * digest of the token) and no `sid` is claimed; the token's client_id is, when it has one.
   */
  bearer?: { clientId?: string };
}

export interface AssertionMinterDeps {
  keyManager: Pick<KeyManager, 'signingKey'>;
  /** server.public_url */
  issuer: string;
  ttlMs: number;
  clock: Clock;
  /** cached (session, audience) pairs; default 10,000 */
  cacheSize?: number;
}

export interface AssertionMinter {
  /** a string on a cache hit (no signing, no await), a promise when it has to sign */
  mint(subject: AssertionSubject, audience: string): string | Promise<string>;
}

interface Cached {
  kid: string;
  sub: string;
  email: string | undefined;
  groups: readonly string[];
  /** reuse until then: half the ttl after issue, so a forwarded assertion always has ≥ ttl/2 left */
  renewAt: number;
  token: string | Promise<string>;
}

function sameGroups(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((g, i) => g === b[i]));
}

/**
 * X-Portcullis-Jwt-Assertion: ES256 JWT with iss, aud, sub, email, groups, sid, iat, exp and the
 * signing kid. One signature per (session, audience) per half ttl: the hot path reads a cache.
 *
 * Cache entries of ended sessions are not chased: a handle is a digest of a random id and is
 * never reused, and the pipeline never asks for an ended session, so such an entry can never be
 * served again; the LRU bound reclaims it. That keeps keys/ free of session-store events.
 */
export function createAssertionMinter(deps: AssertionMinterDeps): AssertionMinter {
  const { clock, ttlMs, issuer } = deps;
  const ttlS = Math.max(1, Math.round(ttlMs / 1000));
  // no lru-cache ttl: renewAt already decides reuse, and a ttl made lru-cache arm a timer every
  // millisecond of traffic (its clock debounce), ~1 µs per request in profiles under load
  const cache = new LRUCache<string, Cached>({ max: deps.cacheSize ?? 10_000 });

  function sign(subject: AssertionSubject, audience: string, signing: SigningKey, now: number): Promise<string> {
    const iat = Math.floor(now / 1000);
    const { user } = subject;
    const session = subject.bearer
      ? subject.bearer.clientId === undefined ? {} : { client_id: subject.bearer.clientId }
      : { sid: subject.handle };
    return new SignJWT({ ...(user.email === undefined ? {} : { email: user.email }), groups: [...user.groups], ...session })
      .setProtectedHeader({ alg: ALGORITHM, kid: signing.kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(user.sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlS)
      .sign(signing.key);
  }

  return {
    mint(subject, audience) {
      const signing = deps.keyManager.signingKey();
      // no key yet: the key store has not been read (Redis unreachable at boot)
      if (!signing) throw new GatewayError('STORE_UNAVAILABLE', 'The gateway is not ready to sign identity assertions yet.');
      const now = clock.now();
      const cacheKey = `${subject.handle}\n${audience}`;
      const hit = cache.get(cacheKey);
      const { user } = subject;
      if (
        hit &&
        hit.kid === signing.kid &&
        now < hit.renewAt &&
        hit.sub === user.sub &&
        hit.email === user.email &&
        sameGroups(hit.groups, user.groups)
      ) {
        return hit.token;
      }
      const entry: Cached = { kid: signing.kid, sub: user.sub, email: user.email, groups: user.groups, renewAt: now + ttlMs / 2, token: '' };
      // concurrent requests of one session share the one signature in flight
      entry.token = sign(subject, audience, signing, now).then(
        (token) => {
          entry.token = token;
          return token;
        },
        (error: unknown) => {
          if (cache.peek(cacheKey) === entry) cache.delete(cacheKey);
          throw error;
        },
      );
      cache.set(cacheKey, entry);
      return entry.token;
    },
  };
}
