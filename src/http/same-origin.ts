import type { IncomingMessage } from 'node:http';

/**
 * CSRF guard for state-changing requests (logout, ending a session): the browser must say the
 * request comes from our own origin. Sec-Fetch-Site is decisive when present; else Origin; else
 * Referer; a request that carries none of them is refused.
 */
export function isSameOrigin(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const fetchSite = req.headers['sec-fetch-site'];
  if (typeof fetchSite === 'string') return fetchSite === 'same-origin';
  const origin = req.headers.origin;
  if (typeof origin === 'string') return origin !== 'null' && allowedOrigins.includes(origin);
  const referer = req.headers.referer;
  if (typeof referer === 'string') {
    try {
      return allowedOrigins.includes(new URL(referer).origin);
    } catch {
      return false;
    }
  }
  return false;
}
