import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Paths that may carry secrets; pino replaces them with "[redacted]". */
const REDACT = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  '*.cookie',
  '*.authorization',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.accessToken',
  '*.refreshToken',
  '*.idToken',
  '*.client_secret',
  '*.secret',
  'tokens',
];

/**
 * `stdout: 'batched'` writes to fd 1 once per event-loop turn, not once per line (see
 * batchPerTurn). The default is pino's synchronous stdout, a write per line; `destination`
 * overrides both.
 */
export function createLogger(options: { level: string; name?: string; destination?: DestinationStream; stdout?: 'sync' | 'batched' }): Logger {
  const destination = options.destination ?? (options.stdout === 'batched' ? batchPerTurn(pino.destination({ dest: 1, sync: true })) : undefined);
  return pino(
    {
      level: options.level,
      name: options.name ?? 'portcullis',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: isoTimeCached(),
    },
    destination,
  );
}

/**
 * pino's isoTime (`,"time":"2026-01-02T03:04:05.678Z"`) with the date and time up to the second
 * formatted once per second: Date#toISOString per line was the costliest part of an access line.
 */
export function isoTimeCached(now: () => number = Date.now): () => string {
  let second = NaN;
  let prefix = '';
  return () => {
    const ms = now();
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      prefix = `,"time":"${new Date(s * 1000).toISOString().slice(0, 20)}`;
    }
    const frac = ms - s * 1000;
    return `${prefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z"`;
  };
}

type Flushable = DestinationStream & { flush?(cb?: (error?: Error) => void): void };

/**
 * Lines written during one event-loop turn reach `sink` as one write, at the end of the turn.
 * Under load a turn serves many requests, and a write per access line (worse: a thread-pool round
 * trip per line with an async stdout) was the largest cost of the request path after the sockets;
 * at low traffic a line still goes out at once. The write is synchronous like pino's default, so
 * no line waits in memory for a slow reader of stdout; lines pending at exit are written then.
 */
function batchPerTurn(sink: Flushable): Flushable {
  let pending = '';
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    if (pending === '') return;
    const lines = pending;
    pending = '';
    sink.write(lines);
  };
  process.once('exit', () => {
    if (pending === '') return;
    try {
      drain();
    } catch {
      // stdout is gone: nothing left to tell
    }
  });
  return {
    write(line: string): void {
      pending += line;
      if (scheduled) return;
      scheduled = true;
      setImmediate(drain);
    },
    flush(cb?: (error?: Error) => void): void {
      drain();
      if (sink.flush) sink.flush(cb);
      else cb?.();
    },
  };
}

/** One access-log record: only fields the server fills itself, never a header, cookie or token. */
export interface AccessRecord {
  reqId: string;
  route: string;
  method: string;
  /** the normalized path without the query string, which may carry secrets */
  path: string;
  status: number;
  ms: number;
  upstreamMs: number | undefined;
  /** the signed-in user's `sub` */
  user: string | undefined;
}

export interface AccessLog {
  /** false when `logger` is above info: skip building the record */
  readonly enabled: () => boolean;
  write(record: AccessRecord): void;
}

/**
 * The access log: one JSON line per request on `logger`'s destination, in pino's line format
 * (level, time, pid, name, the record, msg "request"), so it reads like every other line. Its
 * fields are fixed and filled by the server, so the line is put together directly: pino's
 * generic serializer and redaction were the costliest part of the request path after the sockets.
 */
export function createAccessLog(logger: Logger): AccessLog {
  const stream = (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  const name = (logger.bindings()['name'] as string | undefined) ?? 'portcullis';
  const time = isoTimeCached();
  if (!stream) return { enabled: () => logger.isLevelEnabled('info'), write: (record) => logger.info(record, 'request') };
  const head = `,"pid":${process.pid},"name":${JSON.stringify(name)},"reqId":`;
  return {
    enabled: () => logger.isLevelEnabled('info'),
    write(r: AccessRecord): void {
      stream.write(
        `{"level":30${time()}${head}${JSON.stringify(r.reqId)},"route":${JSON.stringify(r.route)},"method":${JSON.stringify(r.method)},` +
          `"path":${JSON.stringify(r.path)},"status":${r.status},"ms":${r.ms}` +
          `${r.upstreamMs === undefined ? '' : `,"upstreamMs":${r.upstreamMs}`}` +
          `${r.user === undefined ? '' : `,"user":${JSON.stringify(r.user)}`},"msg":"request"}\n`,
      );
    },
  };
}

/**
 * Readable lines for a person at a terminal (the demo, or LOG_FORMAT=pretty): time, level and
 * message first, the fields after. Production logs stay JSON, one object per line.
 */
export function prettyDestination(options: { colorize: boolean; destination?: NodeJS.WritableStream }): DestinationStream {
  return pretty({
    colorize: options.colorize,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,name',
    ...(options.destination ? { destination: options.destination } : {}),
  });
}
