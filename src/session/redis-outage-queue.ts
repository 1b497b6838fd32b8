import type { Tombstone, TombstoneReason } from './types.js';

/**
 * Deletions taken while Redis is unreachable. They already took effect in this replica's mirror;
 * they are written, oldest first, when Redis returns (before the resync). Lives as long as the
 * process.
 *
 * Bounded by `limit`, and built so that junk cannot push real logouts out: entries are keyed
 * (one per session handle, one per user / IdP session), so repeating a deletion merges instead
 * of growing the queue; the caller never queues a handle its mirror does not know; and when
 * full, a by-user / by-sid deletion that ended nothing on this replica goes before any entry
 * that ended a session here, oldest first within each kind.
 */
export type QueuedWrite =
  /** a session this replica knew: its tombstone is written even if the record is gone */
  | { kind: 'tombstone'; tombstone: Tombstone }
  /** every session of a user / IdP session that existed at `at` */
  | { kind: 'removeBySub'; sub: string; reason: TombstoneReason; at: number; endedHere: boolean }
  | {
      kind: 'removeByIdpSid';
      idpSid: string;
      reason: TombstoneReason;
      at: number;
      endedHere: boolean;
      /** no new session with this sid until then (ms), see SessionStore.removeByIdpSid */
      refuseUntil?: number;
    };

export interface OutageQueue {
  /** adds or merges an entry; returns the entry dropped to make room, if any */
  push(entry: QueuedWrite): QueuedWrite | undefined;
  /** the oldest entry */
  peek(): QueuedWrite | undefined;
  /**
   * Removes `entry` once written. A no-op when a push merged it into a newer entry meanwhile
   * (that one stays queued and is written again: deletions are idempotent).
   */
  done(entry: QueuedWrite): void;
  readonly size: number;
}

interface Slot {
  entry: QueuedWrite;
  seq: number;
}

function keyOf(entry: QueuedWrite): string {
  switch (entry.kind) {
    case 'tombstone':
      return `h\0${entry.tombstone.handle}`;
    case 'removeBySub':
      return `u\0${entry.sub}`;
    case 'removeByIdpSid':
      return `i\0${entry.idpSid}`;
  }
}

/** Entries that ended a session on this replica are the ones a lost write would bring back. */
function ranksHigh(entry: QueuedWrite): boolean {
  return entry.kind === 'tombstone' || entry.endedHere;
}

/** A later by-user / by-sid deletion covers everything an earlier one of the same key did. */
function merge(older: QueuedWrite, newer: QueuedWrite): QueuedWrite {
  if (older.kind === 'tombstone' || newer.kind === 'tombstone') return older; // the first tombstone stands
  if (older.kind === 'removeByIdpSid' && newer.kind === 'removeByIdpSid') {
    const refuseUntil = Math.max(older.refuseUntil ?? 0, newer.refuseUntil ?? 0);
    return {
      ...newer,
      at: Math.max(older.at, newer.at),
      endedHere: older.endedHere || newer.endedHere,
      ...(refuseUntil > 0 ? { refuseUntil } : {}),
    };
  }
  return { ...newer, at: Math.max(older.at, newer.at), endedHere: older.endedHere || newer.endedHere } as QueuedWrite;
}

export function createOutageQueue(limit: number): OutageQueue {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('outage queue limit must be a positive integer');
  // two FIFO lanes (a Map keeps insertion order); `seq` restores the global order for writing
  const high = new Map<string, Slot>();
  const low = new Map<string, Slot>();
  let seq = 0;

  const oldest = (): Slot | undefined => {
    const h = high.values().next();
    const l = low.values().next();
    if (h.done) return l.done ? undefined : l.value;
    return l.done || h.value.seq < l.value.seq ? h.value : l.value;
  };

  const evict = (): QueuedWrite | undefined => {
    const lane = low.size > 0 ? low : high;
    const first = lane.entries().next();
    if (first.done) return undefined;
    lane.delete(first.value[0]);
    return first.value[1].entry;
  };

  return {
    push(entry) {
      const key = keyOf(entry);
      const existing = high.get(key) ?? low.get(key);
      let next = entry;
      if (existing) {
        next = merge(existing.entry, entry);
        if (next === existing.entry) return undefined;
        high.delete(key);
        low.delete(key);
      }
      // a merged entry moves to the back: it is written after what was queued before its latest part
      (ranksHigh(next) ? high : low).set(key, { entry: next, seq: seq++ });
      return high.size + low.size > limit ? evict() : undefined;
    },
    peek: () => oldest()?.entry,
    done(entry) {
      const key = keyOf(entry);
      for (const lane of [high, low]) if (lane.get(key)?.entry === entry) lane.delete(key);
    },
    get size() {
      return high.size + low.size;
    },
  };
}
