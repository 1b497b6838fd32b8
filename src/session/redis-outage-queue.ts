import type { Tombstone, TombstoneReason } from './types.js';

/**
 * Deletions taken while Redis is unreachable. They already took effect in this replica's mirror;
 * they are written, oldest first, when Redis returns (before the resync). Bounded: beyond the
 * limit the oldest entry is dropped, and the caller logs it. Lives as long as the process.
 */
export type QueuedWrite =
  /** a session this replica knew: its tombstone is written even if the record is gone */
  | { kind: 'tombstone'; tombstone: Tombstone }
  /** a handle this replica did not know: removed if Redis still has it */
  | { kind: 'remove'; handle: string; reason: TombstoneReason; at: number }
  /** every session of a user / IdP session that existed at `at` */
  | { kind: 'removeBySub'; sub: string; reason: TombstoneReason; at: number }
  | { kind: 'removeByIdpSid'; idpSid: string; reason: TombstoneReason; at: number };

export interface OutageQueue {
  /** adds an entry; returns the entry dropped to make room, if any */
  push(entry: QueuedWrite): QueuedWrite | undefined;
  peek(): QueuedWrite | undefined;
  shift(): QueuedWrite | undefined;
  readonly size: number;
}

export function createOutageQueue(limit: number): OutageQueue {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('outage queue limit must be a positive integer');
  let entries: QueuedWrite[] = [];
  let head = 0;
  const compact = (): void => {
    if (head > 1024 && head * 2 > entries.length) {
      entries = entries.slice(head);
      head = 0;
    }
  };
  return {
    push(entry) {
      entries.push(entry);
      if (entries.length - head <= limit) return undefined;
      const dropped = entries[head];
      head++;
      compact();
      return dropped;
    },
    peek: () => entries[head],
    shift() {
      const entry = entries[head];
      if (entry === undefined) return undefined;
      head++;
      if (head === entries.length) {
        entries = [];
        head = 0;
      } else compact();
      return entry;
    },
    get size() {
      return entries.length - head;
    },
  };
}
