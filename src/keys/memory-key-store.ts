import { conditionHolds, type KeyStore, type StoredKey } from './types.js';

/**
 * Keys inside one gateway process (session.store: memory). A restart makes a new key; a
 * verifier that meets an unknown kid refetches the JWKS. Listeners hear of changes on the
 * next microtask, as they would from a store that notifies.
 */
export function createMemoryKeyStore(): KeyStore {
  const keys = new Map<string, StoredKey>();
  const listeners = new Set<() => void>();
  const announce = () =>
    queueMicrotask(() => {
      for (const listener of listeners) listener();
    });

  return {
    async start() {},
    async list() {
      return [...keys.values()].map((k) => structuredClone(k));
    },
    async add(key, condition) {
      if (keys.has(key.kid) || !conditionHolds([...keys.values()], condition)) return false;
      keys.set(key.kid, structuredClone(key));
      announce();
      return true;
    },
    async remove(kid) {
      if (keys.delete(kid)) announce();
    },
    subscribe(onChange) {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    async close() {
      listeners.clear();
    },
  };
}
