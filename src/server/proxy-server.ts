import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { securityHeaders, sendError } from '../http/respond.js';
import { isWellKnownPath } from '../keys/well-known.js';
import { createAccessLog, type Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Pipeline } from '../proxy/pipeline.js';
import { createRequestContext, fallbackContext } from './request-context.js';
import { isPortalPath } from './portal.js';

export interface ProxyServerDeps {
  pipeline: Pipeline;
  portal: (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>;
  /** /.well-known/portcullis and its jwks.json: public, cacheable, on every host */
  wellKnown?: (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => void;
  logger: Logger;
  metrics: Metrics;
  /** is this peer a trusted proxy (server.trust_forwarded_headers)? */
  trustProxy: (peerIp: string | undefined) => boolean;
  hsts: boolean;
  maxHeaderBytes: number;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 502: 'Bad Gateway' };

/** The proxy port: one catch point, where every error becomes a rendered response. */
export function createProxyServer(deps: ProxyServerDeps): Server {
  const { logger, metrics } = deps;
  const accessLog = createAccessLog(logger);
  const contextOptions = { trustProxy: deps.trustProxy, logger };

  function observe(res: ServerResponse, ctx: RequestContext, method: string): void {
    // 'finish' comes once per response: `on` spares the once-wrapper
    res.on('finish', () => {
      const route = ctx.routeId ?? (isPortalPath(ctx.path) ? 'portal' : 'none');
      const seconds = (performance.now() - ctx.startedAt) / 1000;
      metrics.requests.record(route, method, res.statusCode, seconds);
      // the access log: path without the query string, which may carry secrets
      if (accessLog.enabled()) {
        accessLog.write({
          reqId: ctx.id,
          route,
          method,
          path: ctx.path,
          status: res.statusCode,
          ms: Math.round(seconds * 1000),
          upstreamMs: ctx.upstreamMs === undefined ? undefined : Math.round(ctx.upstreamMs),
          user: ctx.user,
        });
      }
    });
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let ctx: RequestContext;
    try {
      ctx = createRequestContext(req, contextOptions);
    } catch (error) {
      const fallback = fallbackContext(logger);
      securityHeaders(res, { hsts: deps.hsts, noStore: true });
      observe(res, fallback, req.method ?? 'GET');
      sendError(req, res, fallback, error);
      return;
    }
    observe(res, ctx, req.method ?? 'GET');
    try {
      if (deps.wellKnown && isWellKnownPath(ctx.path)) {
        ctx.routeId = 'well-known';
        // gateway-made, but meant to be cached: the handler sets Cache-Control itself
        securityHeaders(res, { hsts: deps.hsts, noStore: false });
        deps.wellKnown(req, res, ctx);
      } else if (isPortalPath(ctx.path)) {
        securityHeaders(res, { hsts: deps.hsts, noStore: true });
        await deps.portal(req, res, ctx);
      } else {
        await deps.pipeline.handle(req, res, ctx);
      }
    } catch (error) {
      if (!res.headersSent) securityHeaders(res, { hsts: deps.hsts, noStore: true });
      sendError(req, res, ctx, error);
    }
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    try {
      const ctx = createRequestContext(req, contextOptions);
      // the gateway's own endpoints speak no WebSocket: never pass them to a route's upstream
      if (isPortalPath(ctx.path) || isWellKnownPath(ctx.path)) throw new GatewayError('BAD_REQUEST', 'Not a WebSocket endpoint.');
      await deps.pipeline.upgrade(req, socket, head, ctx);
    } catch (error) {
      const status = error instanceof GatewayError ? error.status : 502;
      if (!(error instanceof GatewayError)) logger.error({ err: error }, 'upgrade failed');
      if (socket.writable) {
        socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      }
      socket.destroy();
    }
  }

  const server = createServer({ maxHeaderSize: deps.maxHeaderBytes }, (req, res) => {
    void onRequest(req, res);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void onUpgrade(req, socket, head);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
    metrics.requests.record('none', 'unknown', tooLarge ? 431 : 400);
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n`);
  });
  return server;
}
