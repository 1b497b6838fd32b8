/**
 * Every error the gateway renders has a stable code defined here once, an HTTP status,
 * and `expose`: whether its message is safe to show to the client. Anything else that
 * escapes is rendered as a generic 500 without internals.
 */
export const ErrorCodes = {
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  BAD_PATH: { status: 400, title: 'Bad request' },
  BAD_REDIRECT: { status: 400, title: 'Bad redirect target' },
  BAD_CALLBACK: { status: 400, title: 'Sign-in could not be completed' },
  UNAUTHENTICATED: { status: 401, title: 'Sign-in required' },
  INVALID_TOKEN: { status: 401, title: 'Invalid access token' },
  FORBIDDEN: { status: 403, title: 'Access denied' },
  CROSS_SITE: { status: 403, title: 'Cross-site request refused' },
  UNTRUSTED_PROXY: { status: 403, title: 'Forward-auth needs a trusted proxy' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  UPSTREAM_UNREACHABLE: { status: 502, title: 'Upstream unreachable' },
  IDP_UNAVAILABLE: { status: 503, title: 'Identity provider unavailable' },
  STORE_UNAVAILABLE: { status: 503, title: 'Session store unavailable' },
  UPSTREAM_TIMEOUT: { status: 504, title: 'Upstream timed out' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class GatewayError extends Error {
  readonly code: `GW_${ErrorCode}`;
  readonly status: number;
  readonly title: string;
  /** true when `message` may be shown to the client */
  readonly expose: boolean;
  /** extra response headers (e.g. WWW-Authenticate) */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { cause?: unknown; expose?: boolean; headers?: Record<string, string | readonly string[]> } = {},
  ) {
    const def = ErrorCodes[code];
    super(message ?? def.title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = `GW_${code}`;
    this.status = def.status;
    this.title = def.title;
    this.expose = options.expose ?? def.status < 500;
    this.headers = Object.freeze({ ...(options.headers ?? {}) });
  }
}

/** The realm of every challenge the gateway sends. */
const REALM = 'portcullis';

/** 401 for API clients: says how to sign in (browsers are redirected instead). */
export function signInRequired(loginUrl: string, headers: Record<string, string | readonly string[]> = {}): GatewayError {
  return new GatewayError('UNAUTHENTICATED', 'Sign-in required.', {
    headers: { 'WWW-Authenticate': `Cookie realm="${REALM}", login_url="${loginUrl}"`, ...headers },
  });
}

/** The Bearer challenge of a route that accepts access tokens (RFC 6750 §3), alone or with an error. */
export function bearerChallenge(error?: { code: 'invalid_token' | 'insufficient_scope'; description: string }): string {
  // descriptions are the gateway's own fixed phrases: no quote or backslash to escape, no token content
  return error ? `Bearer realm="${REALM}", error="${error.code}", error_description="${error.description}"` : `Bearer realm="${REALM}"`;
}

/** 401 for a bearer token that is malformed, forged, expired or not meant for this gateway (RFC 6750 §3.1). */
export function invalidToken(description: string): GatewayError {
  return new GatewayError('INVALID_TOKEN', `The access token was refused: ${description}.`, {
    headers: { 'WWW-Authenticate': bearerChallenge({ code: 'invalid_token', description }) },
  });
}

/** Config problems: each names the key path it is about. */
export interface ConfigIssue {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('\n'));
    this.name = 'ConfigError';
    this.issues = Object.freeze([...issues]);
  }
}
