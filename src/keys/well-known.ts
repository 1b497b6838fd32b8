import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { etagMatches } from './jwks-document.js';
import { JWKS_MAX_AGE_S, type KeyManager } from './key-manager.js';

export const DISCOVERY_PATH = '/.well-known/portcullis';
export const JWKS_PATH = '/.well-known/portcullis/jwks.json';

export function isWellKnownPath(path: string): boolean {
  return path === JWKS_PATH || path === DISCOVERY_PATH;
}

export interface WellKnownDeps {
  keyManager: Pick<KeyManager, 'jwks'>;
  /** server.public_url: the `iss` of every assertion */
  issuer: string;
  /** origin of public_url: where /.well-known/portcullis/jwks.json is reachable */
  publicOrigin: string;
}

/**
 * GET /.well-known/portcullis (discovery) and …/jwks.json (the published keys). Public, on every
 * host, no session. The caller has set the security headers; these responses may be cached
 * (max-age=60, the figure the key schedule's margins are built on) and read cross-origin.
 */
export function createWellKnown(deps: WellKnownDeps) {
  const discovery = JSON.stringify({ issuer: deps.issuer, jwks_uri: `${deps.publicOrigin}${JWKS_PATH}` });
  const cacheControl = `max-age=${JWKS_MAX_AGE_S}`;

  function send(res: ServerResponse, ctx: RequestContext, status: number, body: string | undefined, headers: Record<string, string>): void {
    res.statusCode = status;
    res.setHeader('X-Request-Id', ctx.id);
    res.setHeader('Cache-Control', cacheControl);
    res.setHeader('Access-Control-Allow-Origin', '*');
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    if (body === undefined) {
      res.end();
      return;
    }
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  }

  return function handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      throw new GatewayError('METHOD_NOT_ALLOWED', undefined, { headers: { Allow: 'GET, HEAD' } });
    }
    if (ctx.path === DISCOVERY_PATH) return send(res, ctx, 200, discovery, {});
    const doc = deps.keyManager.jwks();
    // never an empty key set that verifiers would cache for a minute: say "not yet" instead
    if (!doc) throw new GatewayError('STORE_UNAVAILABLE', 'Signing keys are not loaded yet.', { headers: { 'Retry-After': '1' } });
    const ifNoneMatch = req.headers['if-none-match'];
    if (etagMatches(ifNoneMatch, doc.etag)) return send(res, ctx, 304, undefined, { ETag: doc.etag });
    send(res, ctx, 200, doc.body, { ETag: doc.etag });
  };
}
