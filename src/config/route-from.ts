import { canonicalPathPrefix } from '../lib/path.js';

/** A route's `from`, taken apart: what the route table matches on. */
export interface RouteFrom {
  scheme: 'http' | 'https';
  /** lower-case host; for a wildcard the suffix including the dot, e.g. ".example.com" */
  host: string;
  wildcard: boolean;
  port: number;
  /** "" or a normalized path without a trailing slash, e.g. "/app" */
  pathPrefix: string;
}

export type RouteFromResult = { ok: true; value: RouteFrom } | { ok: false; message: string };

const DEFAULT_PORT = { http: 80, https: 443 } as const;
const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const DOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const IPV6 = /^\[[0-9a-f:.]+\]$/;
const EXAMPLE = 'must be a URL like "https://app.example.com/path" (scheme, host[:port], optional path)';

function fail(message: string): RouteFromResult {
  return { ok: false, message };
}

/**
 * Parses `scheme://host[:port][/path]` where host is exact or `*.domain`. The WHATWG parser does
 * the heavy lifting (IDNA, default ports, dot segments); we refuse what a prefix cannot mean.
 */
export function parseRouteFrom(text: string): RouteFromResult {
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!schemeMatch) return fail(EXAMPLE);
  const scheme = schemeMatch[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return fail('must start with http:// or https://');
  if (/[\s\u0000-\u001f\u007f\\]/.test(text)) return fail('must not contain whitespace, control characters or backslashes');
  if (text.includes('?') || text.includes('#')) return fail('must not have a query or fragment');

  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail(EXAMPLE);
  }
  if (url.username !== '' || url.password !== '') return fail('must not contain credentials');

  const hostname = url.hostname;
  let host = hostname;
  let wildcard = false;
  if (hostname.includes('*')) {
    if (!hostname.startsWith('*.') || hostname.indexOf('*', 1) !== -1 || !DOMAIN.test(hostname.slice(2))) {
      return fail('a wildcard must be the whole first label, like "*.example.com"');
    }
    wildcard = true;
    host = hostname.slice(1); // ".example.com"
  } else if (!DOMAIN.test(hostname) && !IPV6.test(hostname)) {
    return fail(`has an invalid host "${hostname}"`);
  }

  const port = url.port === '' ? DEFAULT_PORT[scheme] : Number(url.port);
  if (port < 1 || port > 65535) return fail('must have a port between 1 and 65535');

  const pathPrefix = canonicalPathPrefix(url.pathname);
  if (pathPrefix === undefined) return fail('has a path with encoded slashes, backslashes or NUL');

  return { ok: true, value: { scheme, host, wildcard, port, pathPrefix } };
}

/** One string per distinct `from`, for duplicate detection and grouping. */
export function routeFromKey(from: RouteFrom): string {
  return `${from.scheme}://${from.wildcard ? '*' : ''}${from.host}:${from.port}${from.pathPrefix}`;
}
