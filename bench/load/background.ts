import type { ChildProcess } from 'node:child_process';
import { adopt } from '../lib/child.js';
import type { LoadResult } from './types.js';

/**
 * A load generator launched for an hour that ends when `stop()` is called: both tools stop on
 * SIGINT and still report what they measured so far.
 */
export function stoppable(launched: { proc: ChildProcess; done: Promise<LoadResult> }): { stop(): Promise<LoadResult> } {
  const { proc, done } = launched;
  const child = adopt(proc);
  return {
    async stop() {
      proc.kill('SIGINT');
      const result = await done;
      await child.stop();
      return result;
    },
  };
}
