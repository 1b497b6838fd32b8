import { createHash } from 'node:crypto';

/**
 * A Lua script with its SHA1, run with EVALSHA and re-sent on NOSCRIPT. The scripts themselves
 * belong to their users (sessions, keys); this is only how any of them reaches Redis.
 */
export interface LuaScript {
  name: string;
  source: string;
  sha: string;
}

export function script(name: string, source: string): LuaScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

interface Evaluator {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(source: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** EVALSHA, falling back to EVAL when the server's script cache is empty (after a restart). */
export async function runScript(client: unknown, lua: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  const evaluator = client as Evaluator;
  try {
    return await evaluator.evalsha(lua.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return await evaluator.eval(lua.source, keys.length, ...keys, ...args);
  }
}
