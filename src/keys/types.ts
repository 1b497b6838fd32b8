import type { JWK } from 'jose';

/**
 * One identity-assertion signing key as a key store holds it. Times are ms since the epoch.
 * A key is published (in the JWKS) from the moment it is stored, signs from `activatesAt`
 * until a newer key activates, and stays published until its last assertion has expired.
 */
export interface StoredKey {
  kid: string;
  createdAt: number;
  /** createdAt + signing.publish_ahead (or createdAt for the very first key) */
  activatesAt: number;
  /** public part only: kty, crv, x, y, kid, alg, use */
  publicJwk: JWK;
  /** undefined when this replica could not open it (e.g. a different encryption secret) */
  privateJwk?: JWK;
}

/**
 * Makes `add` conditional, evaluated atomically by the store, so replicas racing to create a
 * key (first boot, a rotation that is due) create exactly one between them.
 */
export interface AddCondition {
  /** add only if no stored key has activatesAt <= this */
  noKeyActiveBy?: number;
  /** add only if no stored key has createdAt > this */
  noKeyCreatedAfter?: number;
}

/** Where signing keys live: this process (memory) or Redis, shared by every replica. */
export interface KeyStore {
  /** begins connecting; resolves once the store is usable */
  start(): Promise<void>;
  list(): Promise<StoredKey[]>;
  /** true when the key was added (false: the condition did not hold) */
  add(key: StoredKey, condition?: AddCondition): Promise<boolean>;
  remove(kid: string): Promise<void>;
  /**
   * `onChange` is called when the keys may have changed (a notification, a reconnect); the
   * listener re-reads with `list()`. It is a hint only: readers also re-read periodically.
   */
  subscribe(onChange: () => void): () => void;
  close(): Promise<void>;
}

/** Whether `key` satisfies `condition` against the keys already stored. */
export function conditionHolds(existing: readonly StoredKey[], condition: AddCondition | undefined): boolean {
  if (!condition) return true;
  return existing.every(
    (k) =>
      (condition.noKeyActiveBy === undefined || k.activatesAt > condition.noKeyActiveBy) &&
      (condition.noKeyCreatedAfter === undefined || k.createdAt <= condition.noKeyCreatedAfter),
  );
}
