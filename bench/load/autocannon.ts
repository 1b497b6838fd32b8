import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { stoppable } from './background.js';
import type { LoadResult, LoadSpec, LoadTool } from './types.js';

/** autocannon (a devDependency) in a child process: the load generator where wrk is missing. */
export function createAutocannon(): LoadTool {
  const version = (createRequire(import.meta.url)('autocannon/package.json') as { version: string }).version;
  const script = new URL('./autocannon-child.js', import.meta.url).pathname;
  const launch = (spec: LoadSpec) => {
    const proc = spawn(process.execPath, [script, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const done = new Promise<LoadResult>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('exit', (code) => {
        const line = out.trim().split('\n').pop() ?? '';
        if (code === 0 && line) resolve(JSON.parse(line) as LoadResult);
        else reject(new Error(`autocannon failed (${code}): ${err.trim()}`));
      });
    });
    return { proc, done };
  };
  return {
    name: 'autocannon',
    describe: `autocannon ${version} (one process)`,
    run: (spec) => launch(spec).done,
    start: (spec) => stoppable(launch({ ...spec, seconds: 3600 })),
  };
}
