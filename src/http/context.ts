import type { IncomingMessage } from 'node:http';
import type { Logger } from '../observability/logger.js';

/** Per-request facts, computed once by the server and passed down. */
export interface RequestContext {
  /** request id: echoed in X-Request-Id, logs and error pages */
  readonly id: string;
  readonly startedAt: number;
  readonly log: Logger;
  /** scheme and host as the browser sees them (X-Forwarded-* only when trusted) */
  readonly scheme: 'http' | 'https';
  readonly host: string;
  /** the raw path (no query) and its normalized form */
  readonly rawPath: string;
  readonly path: string;
  /** raw query string including '?', or '' */
  readonly search: string;
  /** the client's address (first X-Forwarded-For hop when trusted) */
  readonly clientIp: string;
  /** the peer is a trusted proxy (server.trust_forwarded_headers): its X-Forwarded-* are believed */
  readonly trustForwarded: boolean;
  /** the method policies judge when it is not this request's own (forward-auth names the original) */
  readonly method?: string;
  /** the route label for metrics, set once a route matched */
  routeId?: string;
  /** the signed-in user's `sub`, set once a session was admitted (for the access log) */
  user?: string;
  /** ms from dispatching to the upstream until its response headers arrived (for the access log) */
  upstreamMs?: number;
}

/** Browsers get pages and redirects; API clients get JSON and 401. */
export function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}
