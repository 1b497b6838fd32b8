/**
 * Which key signs, which are published and which may go, at a given moment. Pure, so the
 * timing rules are unit-tested with plain numbers.
 *
 *   created ──publish_ahead──► activates (signs) ──► successor activates ──retire_after──► retired
 *   |◄──────────────────────── published in the JWKS ────────────────────────────────►|
 *
 * retire_after = assertion_ttl + a margin: the last assertion the key signed (at most at the
 * successor's activation) expires assertion_ttl later; the margin absorbs clock skew between
 * replicas and verifiers' leeway.
 */
export interface KeyTimes {
  kid: string;
  createdAt: number;
  activatesAt: number;
}

export interface KeyPlan<K extends KeyTimes> {
  /** the newest key whose activatesAt <= now */
  signing?: K;
  /** pre-published, signing and retiring keys, newest first */
  published: K[];
  /** keys whose last assertion has expired: they may be deleted from the store */
  retired: K[];
  /** the next moment the plan changes by time alone (an activation or a retirement); Infinity if none */
  nextChangeAt: number;
}

/** Activation order; ties (same activatesAt) broken by creation, then kid, so every replica agrees. */
export function compareKeys(a: KeyTimes, b: KeyTimes): number {
  return a.activatesAt - b.activatesAt || a.createdAt - b.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);
}

export function planKeys<K extends KeyTimes>(keys: readonly K[], now: number, retireAfterMs: number): KeyPlan<K> {
  const sorted = [...keys].sort(compareKeys);
  const published: K[] = [];
  const retired: K[] = [];
  let signing: K | undefined;
  let nextChangeAt = Number.POSITIVE_INFINITY;
  for (let i = 0; i < sorted.length; i++) {
    const key = sorted[i]!;
    const successor = sorted[i + 1];
    if (key.activatesAt > now) {
      published.push(key);
      nextChangeAt = Math.min(nextChangeAt, key.activatesAt);
    } else if (successor === undefined || successor.activatesAt > now) {
      signing = key;
      published.push(key);
    } else {
      const retiresAt = successor.activatesAt + retireAfterMs;
      if (now >= retiresAt) {
        retired.push(key);
      } else {
        published.push(key);
        nextChangeAt = Math.min(nextChangeAt, retiresAt);
      }
    }
  }
  published.reverse();
  return { ...(signing ? { signing } : {}), published, retired, nextChangeAt };
}
