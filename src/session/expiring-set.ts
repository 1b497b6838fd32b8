import { LRUCache } from 'lru-cache';

/**
 * Names remembered until a deadline on the caller's clock (ms), at most `max` of them: beyond
 * that the least recently added goes first, so memory stays bounded whatever arrives. Used for
 * one-time claims (a logout token's jti) and ended IdP sessions.
 */
export interface ExpiringSet {
  /** true when `name` is held at `now` */
  has(name: string, now: number): boolean;
  /** holds `name` until `until` (never shortens an existing hold) */
  add(name: string, until: number): void;
  /** adds `name` unless held: true the first time, false while it is held */
  claim(name: string, now: number, until: number): boolean;
}

export function createExpiringSet(max: number): ExpiringSet {
  const held = new LRUCache<string, number>({ max });
  const has = (name: string, now: number): boolean => {
    const until = held.get(name);
    if (until === undefined) return false;
    if (until > now) return true;
    held.delete(name);
    return false;
  };
  const add = (name: string, until: number): void => {
    const current = held.peek(name);
    held.set(name, current !== undefined && current > until ? current : until);
  };
  return {
    has,
    add,
    claim(name, now, until) {
      if (has(name, now)) return false;
      add(name, until);
      return true;
    },
  };
}
