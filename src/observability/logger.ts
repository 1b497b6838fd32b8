import { pino, type Logger, type DestinationStream } from 'pino';

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
