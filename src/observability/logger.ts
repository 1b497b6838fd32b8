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

export function createLogger(options: { level: string; name?: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      name: options.name ?? 'portcullis',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
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
