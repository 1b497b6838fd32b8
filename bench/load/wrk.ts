import { spawn, spawnSync } from 'node:child_process';
import { stoppable } from './background.js';
import type { LoadResult, LoadSpec, LoadTool } from './types.js';

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function ms(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!match) return NaN;
  // divide for µs: 412 * 0.001 is not 0.412 in binary floating point
  return match[2] === 'us' ? Number(match[1]) / 1000 : Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Reads what `wrk --latency` prints (wrk 4.x): requests, duration, percentiles, errors. */
export function parseWrkOutput(text: string): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(text);
  if (!total) throw new Error(`wrk printed no totals:\n${text}`);
  const requests = Number(total[1]);
  const seconds = (Number(total[2]) * UNIT_MS[total[3]!]!) / 1000;
  const percentile = (p: string): number => {
    const match = new RegExp(`^\\s*${p}%\\s+(\\S+)\\s*$`, 'm').exec(text);
    return match ? ms(match[1]!) : NaN;
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1, 5).reduce((sum, n) => sum + Number(n), 0) : 0;
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  return {
    rps: rps ? Number(rps[1]) : requests / seconds,
    p50: percentile('50'),
    p99: percentile('99'),
    requests,
    errors: (non2xx ? Number(non2xx[1]) : 0) + socketErrors,
    seconds,
  };
}

function args(spec: LoadSpec, seconds: number): string[] {
  const headers = Object.entries(spec.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  return ['-t1', `-c${spec.connections}`, `-d${seconds}s`, '--latency', ...headers, spec.url];
}

/** wrk in its own process, one thread (`-t1`), as in the figures the issue quotes. */
export function createWrk(binary: string): LoadTool {
  const version = /wrk\s+(\S+)/.exec(spawnSync(binary, ['-v'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
  const launch = (spec: LoadSpec, seconds: number) => {
    const proc = spawn(binary, args(spec, seconds), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const done = new Promise<LoadResult>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('exit', () => {
        try {
          resolve(parseWrkOutput(out));
        } catch (error) {
          reject(error as Error);
        }
      });
    });
    return { proc, done };
  };
  return {
    name: 'wrk',
    describe: `wrk ${version} -t1`,
    run: (spec) => launch(spec, spec.seconds).done,
    start: (spec) => stoppable(launch(spec, 3600)),
  };
}
