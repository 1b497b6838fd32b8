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
 * `stdout: 'async'` writes to fd 1 without a syscall per line: lines queue while a write is in
 * flight and go out together (pino flushes the rest at exit). The default is pino's synchronous
 * stdout; `destination` overrides both.
 */
export function createLogger(options: { level: string; name?: string; destination?: DestinationStream; stdout?: 'sync' | 'async' }): Logger {
  const destination = options.destination ?? (options.stdout === 'async' ? pino.destination({ dest: 1, sync: false }) : undefined);
  return pino(
    {
      level: options.level,
      name: options.name ?? 'portcullis',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/**
 * The access log: the same destination as `logger`, without redaction. Redaction runs on every
 * line and showed in profiles of the request path, and an access record holds only fields the
 * server fills itself (route, method, normalized path without query, status, times, user `sub`,
 * request id), never a header, cookie or token. Callers check `logger.isLevelEnabled('info')`.
 */
export function createAccessLogger(logger: Logger): Logger {
  const stream = (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  return pino(
    {
      level: 'info',
      name: (logger.bindings()['name'] as string | undefined) ?? 'portcullis',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
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
