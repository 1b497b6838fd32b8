/** What went wrong talking to an upstream, as a metric label (`portcullis_upstream_errors_total{kind}`). */
export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'tls' | 'protocol' | 'request';

const CONNECT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ERR_STREAM_PREMATURE_CLOSE']);
const REQUEST = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN']);

/**
 * The first error code found on the error, its cause, or (for Happy Eyeballs connects, which
 * fail with an AggregateError) its first inner error.
 */
export function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'ERR_AGGREGATE_ERROR') return code;
    const inner = (current as { errors?: unknown[] }).errors;
    current = Array.isArray(inner) && inner.length ? inner[0] : (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function classifyUpstreamError(error: unknown): UpstreamErrorKind {
  const code = errorCode(error) ?? '';
  if (CONNECT.has(code)) return 'connect';
  if (TIMEOUT.has(code)) return 'timeout';
  if (RESET.has(code)) return 'reset';
  if (REQUEST.has(code)) return 'request';
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('ERR_SSL')) return 'tls';
  return 'protocol';
}
