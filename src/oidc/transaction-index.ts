/**
 * The bound on pending sign-ins per browser. Transaction cookies ride only on the callback
 * (Path=/.portcullis/callback), so a login that starts at an app URL cannot see them. It sees a
 * small index cookie instead (Path=/): the ids and sizes of the transaction cookies this browser
 * holds, oldest first. A new login keeps the newest that fit in the bound and deletes the others by
 * name in the same response, so abandoned sign-ins can never push the callback's Cookie header past
 * the header limit. Logins started at the same instant (restored tabs) each keep their own cookie;
 * the index then forgets all but one of them until the next callback rebuilds it from the cookies
 * it sees, and the forgotten ones still expire after login_timeout.
 */

/** transaction cookies a browser holds at most, the newest included */
export const MAX_PENDING = 8;
/** their `name=value` bytes at most: half of the default 16 KiB header limit, the rest for other cookies */
export const PENDING_BYTES_BUDGET = 8 * 1024;
/** ids are digest(state, 12): base64url */
export const ID_PATTERN = /^[A-Za-z0-9_-]{12}$/;

export interface PendingEntry {
  id: string;
  /** bytes the cookie adds to a Cookie header */
  bytes: number;
}

const ENTRY = /^([A-Za-z0-9_-]{12})~([0-9a-z]{1,4})$/;

/** Index cookie value → entries, oldest first; malformed entries are skipped, duplicates keep the last. */
export function parseIndex(value: string | undefined): PendingEntry[] {
  if (!value || value.length > 1024) return [];
  const byId = new Map<string, PendingEntry>();
  for (const part of value.split('.')) {
    const match = ENTRY.exec(part);
    if (!match) continue;
    byId.delete(match[1]!);
    byId.set(match[1]!, { id: match[1]!, bytes: parseInt(match[2]!, 36) });
  }
  return [...byId.values()];
}

export function serializeIndex(entries: readonly PendingEntry[]): string {
  return entries.map((e) => `${e.id}~${Math.min(e.bytes, 36 ** 4 - 1).toString(36)}`).join('.');
}

/**
 * Which of the pending entries (oldest first) stay when at most `room` may, sharing the byte
 * budget with `reservedBytes` (a cookie being added); the oldest go first.
 */
export function fitPending(
  entries: readonly PendingEntry[],
  room: number,
  reservedBytes: number,
): { keep: PendingEntry[]; drop: PendingEntry[] } {
  let bytes = reservedBytes;
  let cut = entries.length;
  for (let i = entries.length - 1; i >= 0; i--) {
    const next = bytes + entries[i]!.bytes;
    if (entries.length - i > room || next > PENDING_BYTES_BUDGET) break;
    bytes = next;
    cut = i;
  }
  return { keep: entries.slice(cut), drop: entries.slice(0, cut) };
}
