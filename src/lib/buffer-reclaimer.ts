import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Frees the buffers of bodies already passed on by bytes passed, not by V8's own schedule.
 *
 * Every chunk of a streamed body is memory outside the JS heap (node:http copies each read of a
 * request body; undici hands on each socket read of a response). Once written on it is garbage,
 * but V8 frees it only in a young-generation collection, or when such memory has grown 64 MB since
 * the last full one. On Node ≥ 22 the young generation is larger and a gigabyte streams with
 * little JS allocation, so young collections hardly run and a 1 GB transfer raised RSS by 66–86 MB
 * (issue 7 bounds it at 64). A young collection after every 32 MB handed on holds it at 20–36 MB
 * (docs/operations.md), and costs less than the full collections it forestalls (the 1 GB test ran
 * in 13–15 s instead of 18–19 s).
 * Small responses reach the threshold only after ~100k requests, whose own garbage has long since
 * run young collections: there it adds one more in many.
 */
export interface BufferReclaimer {
  /** `bytes` of body were handed on (written to the client or the upstream) */
  passed(bytes: number): void;
}

export const RECLAIM_EVERY_BYTES = 32 * 1024 * 1024;

export function createBufferReclaimer(options: { everyBytes?: number; collect?: () => void } = {}): BufferReclaimer {
  const everyBytes = options.everyBytes ?? RECLAIM_EVERY_BYTES;
  const collect = options.collect ?? youngCollection();
  if (collect === undefined) return { passed() {} };
  let since = 0;
  return {
    passed(bytes) {
      since += bytes;
      if (since < everyBytes) return;
      since = 0;
      collect();
    },
  };
}

type Gc = (options: { type: 'minor' }) => void;

/** V8's young-generation collection, or undefined where the runtime does not offer it. */
export function youngCollection(): (() => void) | undefined {
  try {
    let gc = (globalThis as { gc?: Gc }).gc;
    if (typeof gc !== 'function') {
      // --expose-gc gives `gc` to contexts made after it is set (so not to this one): one is made
      // for it, and the flag is put back at once, so no later vm context or worker gets a `gc`
      setFlagsFromString('--expose-gc');
      try {
        gc = runInNewContext('gc') as Gc | undefined;
      } finally {
        setFlagsFromString('--no-expose-gc');
      }
    }
    if (typeof gc !== 'function') return undefined;
    const minor = gc;
    return () => minor({ type: 'minor' });
  } catch {
    return undefined;
  }
}
