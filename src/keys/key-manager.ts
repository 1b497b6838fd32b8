import type { CryptoKey } from 'jose';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { buildJwks, type JwksDocument } from './jwks-document.js';
import { generateStoredKey, importPrivateKey } from './key-material.js';
import { planKeys, type KeyPlan } from './schedule.js';
import type { KeyStore, StoredKey } from './types.js';

/** What the JWKS response promises verifiers (Cache-Control: max-age=60). */
export const JWKS_MAX_AGE_S = 60;

export interface KeyManagerDeps {
  store: KeyStore;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  publishAheadMs: number;
  rotateEveryMs: number;
  assertionTtlMs: number;
  /** kept published this long beyond assertion_ttl after a key stops signing (default: the JWKS max-age) */
  retireMarginMs?: number;
  /** re-read the store this often even without a notification (default 15s) */
  resyncEveryMs?: number;
}

export interface SigningKey {
  kid: string;
  key: CryptoKey;
}

export interface KeyManager {
  /** subscribes, connects the store and loads the keys; resolves once a key can sign */
  start(): Promise<void>;
  /** a key can sign */
  ready(): boolean;
  /** hot path, no I/O: the key that signs now */
  signingKey(): SigningKey | undefined;
  /** hot path, no I/O: the published keys (precomputed); undefined until the store was read once */
  jwks(): JwksDocument | undefined;
  /** re-read the store now, then create, rotate or prune keys if due */
  sync(): Promise<void>;
  close(): Promise<void>;
}

type Entry = StoredKey & { privateKey?: CryptoKey };

/**
 * Clock skew between replicas tolerated without churn: they never both create the first key, and
 * one does not restore a key that another (with a faster clock) has just pruned.
 */
const CLOCK_SKEW_MS = 5000;
const MIN_WAKE_MS = 5;
const MAX_WAKE_MS = 2 ** 31 - 1;

/**
 * Keys rotate without a failed verification: a new key is published `publish_ahead` before it
 * signs, a superseded key stays published until its last assertion has expired (plus a margin),
 * and every replica's JWKS follows the store (notifications, reconnects, a periodic re-read).
 * Creation is a conditional add in the store, so racing replicas make exactly one key.
 */
export function createKeyManager(deps: KeyManagerDeps): KeyManager {
  const { store, clock, logger } = deps;
  const retireAfterMs = deps.assertionTtlMs + (deps.retireMarginMs ?? JWKS_MAX_AGE_S * 1000);
  const resyncEveryMs = deps.resyncEveryMs ?? 15_000;
  if (deps.publishAheadMs < JWKS_MAX_AGE_S * 1000 + resyncEveryMs) {
    logger.warn(
      { publishAheadMs: deps.publishAheadMs },
      'signing.publish_ahead is shorter than the JWKS max-age plus the resync interval: a verifier holding a cached JWKS may meet a new kid before it refetches',
    );
  }

  let keys = new Map<string, Entry>();
  let plan: KeyPlan<Entry> = planKeys([], 0, retireAfterMs);
  let signing: SigningKey | undefined;
  let doc: JwksDocument | undefined;
  let nextChangeAt = Number.POSITIVE_INFINITY;
  let lastLoadAt = 0;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let rerun = false;
  let started = false;
  let closed = false;
  let unsubscribe: (() => void) | undefined;
  const unopenable = new Set<string>();
  const waiters: (() => void)[] = [];

  function recompute(now: number): void {
    plan = planKeys([...keys.values()], now, retireAfterMs);
    nextChangeAt = plan.nextChangeAt;
    const current = plan.signing;
    if (current && !current.privateKey && !unopenable.has(current.kid)) {
      unopenable.add(current.kid);
      logger.error({ kid: current.kid }, 'the signing key cannot be opened here (was session.encryption_key or cookie.secret changed?); run rotate-keys');
    }
    signing = current?.privateKey ? { kid: current.kid, key: current.privateKey } : undefined;
    const kids = plan.published.map((k) => k.kid);
    if (!doc || doc.kids.length !== kids.length || doc.kids.some((kid, i) => kid !== kids[i])) {
      doc = buildJwks(plan.published);
      deps.metrics?.jwksKeys.set(kids.length);
      logger.debug({ kids, signing: signing?.kid }, 'published keys changed');
    }
    if (signing) for (const resolve of waiters.splice(0)) resolve();
  }

  /** Time alone moves a key from pending to signing, or from retiring to retired. */
  function advance(): void {
    const now = clock.now();
    if (now >= nextChangeAt) recompute(now);
  }

  async function reload(): Promise<void> {
    let stored = await store.list();
    if (await restoreLost(stored)) stored = await store.list();
    const next = new Map<string, Entry>();
    for (const key of stored) {
      let privateKey = keys.get(key.kid)?.privateKey;
      if (!privateKey && key.privateJwk) {
        try {
          privateKey = await importPrivateKey(key.privateJwk);
        } catch {
          logger.warn({ kid: key.kid }, 'a stored signing key is not a usable ES256 key');
        }
      }
      next.set(key.kid, privateKey ? { ...key, privateKey } : key);
    }
    keys = next;
    lastLoadAt = clock.now();
    recompute(lastLoadAt);
  }

  /**
   * Keys this replica knows that the store lost (Redis flushed, or failed over to an empty
   * replica) go back in: otherwise the next read would unpublish the key that signs, and a new
   * one would sign at once, both failing verifiers. Only retirement removes a key on purpose.
   */
  async function restoreLost(stored: readonly StoredKey[]): Promise<boolean> {
    if (keys.size === 0) return false;
    const present = new Set(stored.map((k) => k.kid));
    const retired = new Set(planKeys([...keys.values()], clock.now() + CLOCK_SKEW_MS, retireAfterMs).retired.map((k) => k.kid));
    let restored = false;
    for (const key of keys.values()) {
      if (present.has(key.kid) || retired.has(key.kid) || !key.privateJwk) continue;
      const { privateKey: _cryptoKey, ...record } = key;
      if (await store.add(record)) logger.warn({ kid: key.kid }, 'restored a signing key the store had lost');
      restored = true;
    }
    return restored;
  }

  async function createIfDue(): Promise<void> {
    const now = clock.now();
    if (!plan.signing) {
      // First boot: nothing was ever signed, so a key that signs at once can break no verifier.
      const key = await generateStoredKey(now, now);
      if (await store.add(key, { noKeyActiveBy: now + CLOCK_SKEW_MS })) logger.info({ kid: key.kid }, 'created the first signing key');
      await reload();
      return;
    }
    const due = rotationDueAt();
    if (due <= now) {
      const key = await generateStoredKey(now, now + deps.publishAheadMs);
      // the condition makes this exactly-once across replicas: whoever adds first wins
      if (await store.add(key, { noKeyCreatedAfter: now - deps.rotateEveryMs })) {
        logger.info({ kid: key.kid, activatesAt: new Date(key.activatesAt).toISOString() }, 'rotated the signing key');
      }
      await reload();
    }
  }

  async function prune(): Promise<void> {
    for (const key of plan.retired) {
      await store.remove(key.kid);
      logger.info({ kid: key.kid }, 'removed a retired signing key');
    }
    if (plan.retired.length > 0) await reload();
  }

  function rotationDueAt(): number {
    let newest = Number.NEGATIVE_INFINITY;
    for (const key of keys.values()) newest = Math.max(newest, key.createdAt);
    return newest + deps.rotateEveryMs;
  }

  async function cycle(): Promise<void> {
    try {
      await reload();
      await createIfDue();
      await prune();
      failures = 0;
    } catch (error) {
      failures++;
      const log = failures === 1 ? logger.warn.bind(logger) : logger.debug.bind(logger);
      log({ err: error instanceof Error ? error.message : String(error), failures }, 'signing keys could not be synced; retrying');
    }
  }

  /** One timer: the next activation or retirement, the next rotation, the next re-read. */
  function arm(): void {
    if (closed) return;
    if (timer) clearTimeout(timer);
    const now = clock.now();
    const retryAt = now + Math.min(250 * 2 ** Math.min(failures - 1, 6), resyncEveryMs);
    const rotation = keys.size > 0 ? rotationDueAt() : Number.POSITIVE_INFINITY;
    let at = failures > 0 ? retryAt : lastLoadAt + resyncEveryMs;
    // a rotation already due was just tried: retry on the normal cadence, never in a tight loop
    at = Math.min(at, nextChangeAt, rotation > now ? rotation : at);
    const delay = Math.max(MIN_WAKE_MS, Math.min(MAX_WAKE_MS, at - now));
    timer = setTimeout(() => void sync(), delay);
    timer.unref();
  }

  function sync(): Promise<void> {
    if (closed) return Promise.resolve();
    if (running) {
      rerun = true;
      return running;
    }
    running = (async () => {
      do {
        rerun = false;
        await cycle();
      } while (rerun && !closed);
      arm();
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    start() {
      const whenReady = new Promise<void>((resolve) => (signing ? resolve() : waiters.push(resolve)));
      if (!started) {
        started = true;
        unsubscribe = store.subscribe(() => void sync());
        store.start().catch((error: unknown) => logger.warn({ err: String(error) }, 'key store failed to start'));
        void sync();
      }
      return whenReady;
    },
    ready() {
      advance();
      return signing !== undefined;
    },
    signingKey() {
      advance();
      return signing;
    },
    jwks() {
      advance();
      return doc;
    },
    sync,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      unsubscribe?.();
      for (const resolve of waiters.splice(0)) resolve();
      await running?.catch(() => undefined);
    },
  };
}
