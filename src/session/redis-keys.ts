import { digest } from '../lib/random.js';

/**
 * Key layout under `key_prefix` (P). The record and the tombstone of one session share the hash
 * tag `{handle}`, so the scripts that touch both stay on one Cluster slot; indexes and leases are
 * single-key and may live anywhere.
 *
 *   P s:{handle}        session view (string, TTL = earlier of absolute and idle expiry)
 *   P k:{handle}        its tokens, sealed (same TTL; read only by load())
 *   P t:{handle}        tombstone (JSON, TTL = tombstone_ttl)
 *   P u:<digest(sub)>   set of handles of a user
 *   P i:<digest(sid)>   set of handles of an IdP session
 *   P l:<name>          lease (owner id, PX ttl)
 *   P o:<digest(name)>  a one-time claim, e.g. a logout token's issuer + jti (SET NX PX)
 *   P e:<digest(sid)>   an IdP session ended by a back-channel logout: no new session with that sid
 *   P r                 the refresh queue: sorted set of handle by access-token expiry (redis-refresh-queue.ts)
 *   P probe:<random>    short-lived key that proves keyspace notifications arrive
 */
export interface RedisKeys {
  prefix: string;
  session(handle: string): string;
  tombstone(handle: string): string;
  tokens(handle: string): string;
  /** the record, tombstone and token keys of a session, as the scripts take them */
  triple(handle: string): [string, string, string];
  bySub(sub: string): string;
  byIdpSid(idpSid: string): string;
  lease(name: string): string;
  claim(name: string): string;
  endedIdpSid(idpSid: string): string;
  probe(id: string): string;
  refreshQueue: string;
  /** SCAN MATCH pattern for every session record */
  sessionPattern: string;
  /** what a key under the prefix is: a session or tombstone (with its handle), or something else */
  classify(key: string): { kind: 'session' | 'tombstone'; handle: string } | { kind: 'other' };
}

/** Handles are digests (base64url); anything else is refused before it reaches Redis. */
const HANDLE = /^[A-Za-z0-9_.~-]{1,128}$/;

export function isValidHandle(handle: string): boolean {
  return HANDLE.test(handle);
}

/** Escapes glob metacharacters for SCAN MATCH and PSUBSCRIBE. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export function createRedisKeys(prefix: string): RedisKeys {
  const sessionHead = `${prefix}s:{`;
  const tombstoneHead = `${prefix}t:{`;
  const handleOf = (key: string, head: string): string | undefined => {
    if (!key.startsWith(head) || !key.endsWith('}')) return undefined;
    const handle = key.slice(head.length, -1);
    return isValidHandle(handle) ? handle : undefined;
  };
  return {
    prefix,
    session: (handle) => `${sessionHead}${handle}}`,
    tombstone: (handle) => `${tombstoneHead}${handle}}`,
    tokens: (handle) => `${prefix}k:{${handle}}`,
    triple: (handle) => [`${sessionHead}${handle}}`, `${tombstoneHead}${handle}}`, `${prefix}k:{${handle}}`],
    bySub: (sub) => `${prefix}u:${digest(sub)}`,
    byIdpSid: (idpSid) => `${prefix}i:${digest(idpSid)}`,
    lease: (name) => `${prefix}l:${name}`,
    claim: (name) => `${prefix}o:${digest(name)}`,
    endedIdpSid: (idpSid) => `${prefix}e:${digest(idpSid)}`,
    probe: (id) => `${prefix}probe:${id}`,
    refreshQueue: `${prefix}r`,
    sessionPattern: `${escapeGlob(sessionHead)}*`,
    classify(key) {
      const session = handleOf(key, sessionHead);
      if (session !== undefined) return { kind: 'session', handle: session };
      const tombstone = handleOf(key, tombstoneHead);
      if (tombstone !== undefined) return { kind: 'tombstone', handle: tombstone };
      return { kind: 'other' };
    },
  };
}
