import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import { eventually } from '../../test/support/eventually.js';

/** A process the harness started; `stop()` ends it (SIGTERM, then SIGKILL) and waits for its exit. */
export interface Child {
  proc: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;

export function adopt(proc: ChildProcess): Child {
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  const killOnExit = (): void => {
    proc.kill('SIGKILL');
  };
  // a harness that dies must not leave its targets behind
  process.once('exit', killOnExit);
  return {
    proc,
    pid: proc.pid ?? -1,
    async stop() {
      process.removeListener('exit', killOnExit);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts `node script args…` (after `launcher`, e.g. valgrind and its options) and resolves
 * with its first stdout line parsed as JSON (each bench child announces itself that way once it
 * listens). Stderr is kept for the error message.
 */
export async function startNodeChild<T>(
  script: URL,
  args: string[] = [],
  options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number; launcher?: string[] } = {},
): Promise<{ child: Child; hello: T }> {
  const spawnOptions: SpawnOptions = { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } };
  const command = [...(options.launcher ?? []), process.execPath, ...(options.nodeArgs ?? []), script.pathname, ...args];
  const proc = spawn(command[0]!, command.slice(1), spawnOptions);
  const child = adopt(proc);
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 8000) stderr += chunk.toString();
  });
  const lines = createInterface({ input: proc.stdout! });
  try {
    const hello = await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script.pathname} did not start within ${options.timeoutMs ?? 30_000}ms`)), options.timeoutMs ?? 30_000);
      lines.once('line', (line) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line) as T);
        } catch {
          reject(new Error(`${script.pathname} said ${line}`));
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${script.pathname} exited (${code ?? signal}): ${stderr.trim().slice(0, 2000)}`));
      });
    });
    // later lines (results of a child that reports) are read by whoever asked for them
    return { child, hello };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** Stops every child of a target list, in reverse order, even when one of them fails to stop. */
export async function stopAll(children: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  for (const child of [...children].reverse()) await child?.stop().catch(() => undefined);
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes; the error names `what`. */
export async function until<T>(check: () => Promise<T> | T, what: string, timeoutMs = 30_000, intervalMs = 25): Promise<T> {
  try {
    return await eventually(check, timeoutMs, intervalMs);
  } catch (error) {
    throw new Error(`timed out waiting for ${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
