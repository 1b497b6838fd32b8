import { connect } from 'node:net';
import fc from 'fast-check';

/**
 * What every fuzz file shares: one seed per run (printed, and settable with FUZZ_SEED to replay a
 * failure), run counts scaled by FUZZ_SCALE, a watch for unhandled rejections and uncaught
 * exceptions, and a raw HTTP/1.1 client (fetch and node:http normalize or refuse exactly the
 * targets and header names this suite wants to send).
 */

interface TapLike {
  comment(...args: any[]): unknown;
  fail(...args: any[]): unknown;
  pass(...args: any[]): unknown;
  teardown(fn: () => any): unknown;
}

/** One seed for the whole file: each property gets seed + its index, so one number replays all. */
export function fuzzSeed(): number {
  const fromEnv = process.env.FUZZ_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const seed = Number(fromEnv);
    if (!Number.isInteger(seed)) throw new TypeError(`FUZZ_SEED must be an integer, got "${fromEnv}"`);
    return seed;
  }
  return Math.floor(Math.random() * 0x7fffffff);
}

/** FUZZ_SCALE=10 runs ten times as many cases (a long local soak); default 1. */
export function runs(base: number): number {
  const scale = Number(process.env.FUZZ_SCALE ?? 1);
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/**
 * Runs one fast-check property under tap. A failure reports the shrunk counterexample and the
 * seed to replay it (`FUZZ_SEED=N npx tap dist/test/fuzz/<file>.test.js`).
 */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(
  t: TapLike,
  name: string,
  property: fc.IAsyncProperty<Ts> | fc.IProperty<Ts>,
  options: { seed: number; numRuns: number },
): Promise<void> {
  const started = performance.now();
  const result = await fc.check(property, { seed: options.seed, numRuns: options.numRuns, endOnFailure: false });
  const ms = Math.round(performance.now() - started);
  if (result.failed) {
    const error = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
    t.fail(`${name}: ${error}`, {
      seed: options.seed,
      replay: `FUZZ_SEED=${options.seed}`,
      counterexample: result.counterexample,
      report: fc.defaultReportMessage(result),
    });
  } else {
    t.pass(`${name}: ${result.numRuns} runs in ${ms} ms`);
  }
}

/** Counts the requests a file sent (a run may send a batch) and prints the total at the end. */
export function requestCounter(t: TapLike): { add(n?: number): void } {
  let count = 0;
  t.teardown(() => t.comment(`requests sent: ${count}`));
  return { add: (n = 1) => void (count += n) };
}

/** Fails the test when anything escapes as an unhandled rejection or uncaught exception. */
export function watchProcess(t: TapLike): { escaped: unknown[] } {
  const escaped: unknown[] = [];
  const onRejection = (reason: unknown) => escaped.push(reason);
  const onException = (error: unknown) => escaped.push(error);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  t.teardown(() => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    if (escaped.length > 0) {
      t.fail('an unhandled rejection or uncaught exception escaped during the fuzz', {
        escaped: escaped.map((e) => (e instanceof Error ? e.stack : String(e))),
      });
    }
  });
  return { escaped };
}

export interface RawResponse {
  status: number;
  /** lower-case names; repeated headers keep every value */
  headers: Map<string, string[]>;
  body: string;
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

function parseResponse(raw: Buffer): RawResponse | undefined {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const lines = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!statusMatch) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  let body = raw.subarray(headEnd + 4);
  const length = headers.get('content-length')?.[0];
  if (headers.get('transfer-encoding')?.[0]?.toLowerCase() === 'chunked') body = dechunk(body);
  else if (length !== undefined) body = body.subarray(0, Number(length));
  return { status: Number(statusMatch[1]), headers, body: body.toString('utf8') };
}

/**
 * Sends `request` (a whole HTTP/1.1 message, written as UTF-8) on a fresh connection and reads
 * the first response. Rejects when nothing complete arrives within `timeoutMs` (a hang) or the
 * connection closes without a response.
 */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parseResponse(Buffer.concat(chunks));
      if (parsed) resolve(parsed);
      else reject(error ?? new Error(`connection closed without a response (got ${Buffer.concat(chunks).length} bytes)`));
    };
    const timer = setTimeout(() => finish(new Error(`no complete response within ${timeoutMs} ms (a hang)`)), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // a complete response with Content-Length need not wait for the close
      const parsed = parseResponse(Buffer.concat(chunks));
      const length = parsed?.headers.get('content-length')?.[0];
      if (parsed && length !== undefined && Buffer.byteLength(parsed.body) >= Number(length)) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (error) => finish(error));
    socket.write(request);
  });
}

/** A GET with the given target and extra header lines (each "Name: value"), Connection: close. */
export function getRequest(target: string, host: string, headerLines: readonly string[] = []): string {
  return [`GET ${target} HTTP/1.1`, `Host: ${host}`, ...headerLines, 'Connection: close', '', ''].join('\r\n');
}

export function json(body: string): Record<string, any> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null ? (value as Record<string, any>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What every fuzz file starts with: its seed (printed, replayable with FUZZ_SEED), a watch for
 * escaped rejections and exceptions, and a count of the requests it sends.
 */
export function startFuzzFile(t: TapLike): { seed: number; sent: { add(n?: number): void } } {
  const seed = fuzzSeed();
  t.comment(`seed=${seed} (replay: FUZZ_SEED=${seed})`);
  watchProcess(t);
  return { seed, sent: requestCounter(t) };
}
