import type { Redis } from 'ioredis';

/**
 * The mirror needs keyspace notifications: K (keyspace channel), g (del), $ (set) and x (expired).
 * The store turns them on itself with CONFIG SET, merged with whatever an operator already set;
 * where CONFIG is refused (managed Redis, ACL) it can only check, or prove them with a probe.
 */
export const REQUIRED_FLAGS = ['K', 'g', '$', 'x'] as const;
/** what "A" stands for in notify-keyspace-events (Redis 7) */
const ALL_CLASSES = 'g$lshzxetd';

export function missingKeyspaceFlags(flags: string): string[] {
  const have = new Set(flags);
  if (have.has('A')) for (const c of ALL_CLASSES) have.add(c);
  return REQUIRED_FLAGS.filter((flag) => !have.has(flag));
}

/** The operator's flags plus ours; never drops a flag. */
export function mergeKeyspaceFlags(flags: string): string {
  return flags + missingKeyspaceFlags(flags).join('');
}

export type KeyspaceCheck =
  | { ok: true; changed?: { from: string; to: string } }
  /** CONFIG GET itself is refused: only a probe can tell */
  | { ok: false; unreadable: true; detail: string }
  | { ok: false; unreadable?: false; detail: string };

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 120);
}

function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/** Connection errors propagate (the caller waits for the next reconnect); server refusals are results. */
export async function ensureKeyspaceEvents(node: Redis, configure: boolean): Promise<KeyspaceCheck> {
  let current: string;
  try {
    const reply = (await node.config('GET', 'notify-keyspace-events')) as unknown;
    const value = Array.isArray(reply) ? reply[1] : undefined;
    if (typeof value !== 'string') throw Object.assign(new Error('unexpected CONFIG GET reply'), { name: 'ReplyError' });
    current = value;
  } catch (error) {
    if (!isReplyError(error)) throw error;
    return {
      ok: false,
      unreadable: true,
      detail: `notify-keyspace-events could not be read (CONFIG GET refused: ${firstLine(error)})`,
    };
  }
  const missing = missingKeyspaceFlags(current);
  if (missing.length === 0) return { ok: true };
  const wanted = mergeKeyspaceFlags(current);
  const advice = `set notify-keyspace-events to include K, g, $ and x (e.g. "${wanted}")`;
  if (!configure) {
    return {
      ok: false,
      detail: `notify-keyspace-events is "${current}", lacking ${missing.join('')}, and session.redis.configure_keyspace_events is false: ${advice}`,
    };
  }
  try {
    await node.config('SET', 'notify-keyspace-events', wanted);
  } catch (error) {
    if (!isReplyError(error)) throw error;
    return {
      ok: false,
      detail: `notify-keyspace-events is "${current}", lacking ${missing.join('')}, and CONFIG SET was refused (${firstLine(error)}): ${advice}`,
    };
  }
  return { ok: true, changed: { from: current, to: wanted } };
}
