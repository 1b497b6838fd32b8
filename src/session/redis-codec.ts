import type { Session, Tombstone, TombstoneReason } from './types.js';

/**
 * A session is two strings under the same hash tag: the view (what every mirror needs) and the
 * sealed tokens (what only load() needs), so a resync moves no token bytes. The view is
 *
 *   "1|<version>|<lastSeenAt>|<expiresAt>|<json>"
 *
 * The header carries what the Lua scripts compare or rewrite (version, idle and absolute expiry)
 * without decoding JSON in Redis; the JSON body is the rest of the Session (header fields win).
 */
type Body = Omit<Session, 'version' | 'lastSeenAt'>;

export function int(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new TypeError('session times and version must be non-negative numbers');
  return String(Math.floor(n));
}

/** The JSON part alone (the update script writes its own header). */
export function encodeBody(session: Session): string {
  const { version: _version, lastSeenAt: _lastSeenAt, ...body } = session;
  // a SessionRecord passed in by mistake must never put tokens in the view
  if ('tokens' in body) delete (body as { tokens?: unknown }).tokens;
  return JSON.stringify(body satisfies Body);
}

export function encodeView(session: Session): string {
  return `1|${int(session.version)}|${int(session.lastSeenAt)}|${int(session.expiresAt)}|${encodeBody(session)}`;
}

/** Undefined when the value is not a view this code wrote for `handle`. Hot in resyncs: no regex, no copies. */
export function decodeView(value: string, handle: string): Session | undefined {
  if (!value.startsWith('1|')) return undefined;
  const a = value.indexOf('|', 2);
  const b = a < 0 ? -1 : value.indexOf('|', a + 1);
  const c = b < 0 ? -1 : value.indexOf('|', b + 1);
  if (c < 0) return undefined;
  const version = decimal(value, 2, a);
  const lastSeenAt = decimal(value, a + 1, b);
  const expiresAt = decimal(value, b + 1, c);
  if (version === undefined || lastSeenAt === undefined || expiresAt === undefined) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(value.slice(c + 1));
  } catch {
    return undefined;
  }
  if (!isBody(body) || body.handle !== handle) return undefined;
  const session = body as Session;
  session.version = version;
  session.lastSeenAt = lastSeenAt;
  session.expiresAt = expiresAt;
  return session;
}

function decimal(text: string, from: number, to: number): number | undefined {
  if (to <= from || to - from > 16) return undefined;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return n;
}

function isBody(value: unknown): value is Body {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const user = v.user as Record<string, unknown> | undefined;
  return (
    typeof v.handle === 'string' &&
    typeof v.createdAt === 'number' &&
    typeof v.refreshable === 'boolean' &&
    (v.idpSid === undefined || typeof v.idpSid === 'string') &&
    typeof user === 'object' &&
    user !== null &&
    typeof user.sub === 'string' &&
    Array.isArray(user.groups) &&
    typeof user.claims === 'object' &&
    user.claims !== null
  );
}

const REASONS: ReadonlySet<string> = new Set<TombstoneReason>(['logout', 'backchannel', 'revoked', 'expired', 'operator', 'user', 'replaced', 'frontchannel']);

export function encodeTombstone(tombstone: Tombstone): string {
  return JSON.stringify(tombstone);
}

/** Tombstones written by the Lua scripts carry `at` as a string (no float formatting in Lua). */
export function decodeTombstone(value: string, handle: string): Tombstone | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const v = parsed as Record<string, unknown>;
  const at = Number(v.at);
  if (v.handle !== handle || typeof v.sub !== 'string' || typeof v.reason !== 'string' || !REASONS.has(v.reason) || !Number.isFinite(at)) {
    return undefined;
  }
  const tombstone: Tombstone = { handle, sub: v.sub, reason: v.reason as TombstoneReason, at };
  if (typeof v.idpSid === 'string' && v.idpSid !== '') tombstone.idpSid = v.idpSid;
  return tombstone;
}
