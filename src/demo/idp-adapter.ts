import type { Adapter, AdapterPayload } from 'oidc-provider';

/**
 * A Map-backed oidc-provider adapter owned by one demo IdP instance (oidc-provider's own memory
 * adapter keeps a module-level store, which two IdPs in one process would share). Tests read
 * it to revoke a user's grants or look at the refresh tokens the IdP issued.
 */
export interface StoredEntry {
  model: string;
  id: string;
  payload: AdapterPayload;
  /** ms since epoch, or undefined for no expiry */
  expiresAt?: number;
}

/** Models whose records belong to a grant (deleted with it). */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

export interface AdapterStore {
  /** the adapter factory to pass as oidc-provider's `adapter` option */
  factory: (model: string) => Adapter;
  /** live entries of one model (e.g. 'RefreshToken', 'Grant', 'Session') */
  entries(model: string): StoredEntry[];
  /** deletes a grant and every token issued under it; true when it existed */
  deleteGrant(grantId: string): boolean;
  clear(): void;
}

export function createAdapterStore(now: () => number = Date.now): AdapterStore {
  const records = new Map<string, StoredEntry>();
  const uidIndex = new Map<string, string>();
  const userCodeIndex = new Map<string, string>();
  const grantIndex = new Map<string, Set<string>>();

  const keyOf = (model: string, id: string): string => `${model}:${id}`;

  function live(key: string): StoredEntry | undefined {
    const entry = records.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
      remove(key);
      return undefined;
    }
    return entry;
  }

  function remove(key: string): void {
    const entry = records.get(key);
    if (!entry) return;
    records.delete(key);
    const { uid, userCode, grantId } = entry.payload;
    if (typeof uid === 'string' && uidIndex.get(uid) === entry.id) uidIndex.delete(uid);
    if (typeof userCode === 'string' && userCodeIndex.get(userCode) === entry.id) userCodeIndex.delete(userCode);
    if (typeof grantId === 'string') grantIndex.get(grantId)?.delete(key);
  }

  function revokeByGrantId(grantId: string): void {
    const members = grantIndex.get(grantId);
    grantIndex.delete(grantId);
    for (const key of members ?? []) remove(key);
  }

  function factory(model: string): Adapter {
    return {
      async upsert(id, payload, expiresIn) {
        const key = keyOf(model, id);
        remove(key);
        const entry: StoredEntry = {
          model,
          id,
          payload: structuredClone(payload),
          expiresAt: typeof expiresIn === 'number' ? now() + expiresIn * 1000 : undefined,
        };
        records.set(key, entry);
        if (model === 'Session' && typeof payload.uid === 'string') uidIndex.set(payload.uid, id);
        if (typeof payload.userCode === 'string') userCodeIndex.set(payload.userCode, id);
        if (GRANTABLE.has(model) && typeof payload.grantId === 'string') {
          let members = grantIndex.get(payload.grantId);
          if (!members) grantIndex.set(payload.grantId, (members = new Set()));
          members.add(key);
        }
      },
      async find(id) {
        const entry = live(keyOf(model, id));
        return entry ? structuredClone(entry.payload) : undefined;
      },
      async findByUid(uid) {
        const id = uidIndex.get(uid);
        return id === undefined ? undefined : this.find(id);
      },
      async findByUserCode(userCode) {
        const id = userCodeIndex.get(userCode);
        return id === undefined ? undefined : this.find(id);
      },
      async consume(id) {
        const entry = live(keyOf(model, id));
        if (entry) entry.payload.consumed = Math.floor(now() / 1000);
      },
      async destroy(id) {
        remove(keyOf(model, id));
      },
      async revokeByGrantId(grantId) {
        revokeByGrantId(grantId);
      },
    };
  }

  return {
    factory,
    entries(model) {
      const out: StoredEntry[] = [];
      for (const [key, entry] of records) if (entry.model === model && live(key)) out.push(entry);
      return out;
    },
    deleteGrant(grantId) {
      const key = keyOf('Grant', grantId);
      const existed = live(key) !== undefined;
      remove(key);
      revokeByGrantId(grantId);
      return existed;
    },
    clear() {
      records.clear();
      uidIndex.clear();
      userCodeIndex.clear();
      grantIndex.clear();
    },
  };
}
