import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import { PassThrough, type Duplex, type Writable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CompiledRoute } from '../routes/types.js';
import { createCookieNamespace } from '../http/cookies.js';
import { filterResponseHeaders, withoutGatewayCookies, type UpstreamHeaders } from './headers.js';
import { createUpgrader } from './upgrade.js';
import { classifyUpstreamError, errorCode } from './upstream-errors.js';

/** Where and how one request goes upstream; built by the pipeline. */
export interface ForwardTarget {
  route: CompiledRoute;
  /** the exact request target sent upstream: route.to's path + the (stripped) request path + query */
  path: string;
  /** from buildUpstreamHeaders: already cleaned and carrying the identity */
  headers: UpstreamHeaders;
}

export interface Forwarder {
  /**
   * Streams the request to the upstream and the response back. Rejects with a GatewayError
   * (504 UPSTREAM_TIMEOUT, 502 UPSTREAM_UNREACHABLE, 400 BAD_REQUEST) only while nothing has been
   * sent to the client; later failures destroy the response. A client abort resolves quietly.
   */
  forward(req: IncomingMessage, res: ServerResponse, target: ForwardTarget): Promise<void>;
  /** Passes an Upgrade (WebSocket) request through; never throws, failures answer on the socket. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: ForwardTarget): void;
  /** Ends open WebSockets and upstream connections; call after the server has drained. */
  close(): Promise<void>;
}

export interface ForwarderDeps {
  logger: Logger;
  metrics: Metrics;
  /** keep-alive connections per upstream origin (default 128; more requests queue) */
  connectionsPerOrigin?: number;
  /** TCP/TLS connect timeout in ms (default 10s), reported as a 502 */
  connectTimeoutMs?: number;
  /** the gateway's own cookie: an upstream may never set (or delete) it or any in its namespace */
  reservedCookieName?: string;
}

/**
 * Per-request state, carried through undici's `opaque` so the response factory is one shared
 * function. It is also the request's abort signal: undici accepts an EventEmitter with `aborted`
 * and an 'abort' event, which is much cheaper to create per request than an AbortController.
 */
class Exchange extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;
  /** set when writing the upstream's status/headers failed (a malformed upstream response) */
  headError?: unknown;
  constructor(
    readonly res: ServerResponse,
    /** the gateway's cookie namespace, or undefined */
    readonly isGatewayCookie: ((name: string) => boolean) | undefined,
  ) {
    super();
  }
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

function asList(value: OutgoingHttpHeader): string[] {
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

/** undici's stream() factory: copy status and headers, then undici writes the body into `res`. */
function startResponse({ statusCode, headers, opaque }: Dispatcher.StreamFactoryData<unknown>): Writable {
  const exchange = opaque as Exchange;
  const res = exchange.res;
  try {
    const out = filterResponseHeaders(headers);
    let upstreamCookies = out['set-cookie'];
    const isGatewayCookie = exchange.isGatewayCookie;
    if (upstreamCookies !== undefined && isGatewayCookie !== undefined) {
      // an upstream must not be able to plant or clear the gateway's cookies
      upstreamCookies = withoutGatewayCookies(upstreamCookies, isGatewayCookie);
      if (upstreamCookies) out['set-cookie'] = upstreamCookies;
      else delete out['set-cookie'];
    }
    // the pipeline may already have set the renewed session cookie on `res`: keep both
    const own = res.getHeader('set-cookie');
    if (upstreamCookies !== undefined && own !== undefined) out['set-cookie'] = [...asList(own), ...asList(upstreamCookies)];
    res.writeHead(statusCode, out);
  } catch (error) {
    exchange.headError = error;
    throw error;
  }
  return res;
}

/** Requests without Content-Length or Transfer-Encoding have no body (RFC 9112 §6.3). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function createForwarder(deps: ForwarderDeps): Forwarder {
  const { metrics } = deps;
  const log = deps.logger.child({ part: 'forward' });
  const isGatewayCookie = deps.reservedCookieName ? createCookieNamespace(deps.reservedCookieName) : undefined;
  // one Agent = one keep-alive Pool per upstream origin, owned by this forwarder (never global)
  const agent = new Agent({
    connections: deps.connectionsPerOrigin ?? 128,
    connect: { timeout: deps.connectTimeoutMs ?? 10_000 },
    keepAliveTimeout: 4_000,
  });
  const upgrader = createUpgrader({ logger: log, metrics, ...(isGatewayCookie ? { isGatewayCookie } : {}) });

  async function forward(req: IncomingMessage, res: ServerResponse, target: ForwardTarget): Promise<void> {
    const { route } = target;
    if (res.destroyed) return;
    const exchange = new Exchange(res, isGatewayCookie);
    let clientGone = false;
    const onClose = (): void => {
      // `errored` is set when undici destroyed `res` for an upstream failure; otherwise the client left
      if (!res.writableFinished && !res.errored) {
        clientGone = true;
        exchange.abort();
      }
    };
    res.once('close', onClose);

    let body: PassThrough | undefined;
    if (hasBody(req)) {
      // undici destroys a failed request's body; a pass-through keeps that from destroying the
      // client's socket, so a 502 can still be sent
      body = new PassThrough();
      req.pipe(body);
    }
    let headers = target.headers;
    if (headers.upgrade !== undefined || headers.connection !== undefined) {
      // undici refuses these; an upgrade that reached forward() is served as a plain request
      const { upgrade: _u, connection: _c, ...rest } = headers;
      headers = rest;
    }

    try {
      await agent.stream(
        {
          origin: route.to.origin,
          path: target.path,
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers,
          body,
          signal: exchange,
          headersTimeout: route.timeoutMs,
          // streaming responses (SSE, long downloads) may idle legitimately; a client that leaves ends them
          bodyTimeout: 0,
          opaque: exchange,
        },
        startResponse,
      );
    } catch (error) {
      if (clientGone) return;
      if (body && !req.complete) {
        // let node:http read and discard the rest of the upload so the error response can be read
        req.unpipe(body);
        req.resume();
      }
      const rendered = failure(error, exchange, route, res);
      if (rendered) throw rendered;
    } finally {
      res.off('close', onClose);
    }
  }

  /** The error to render, or undefined once the response has begun (then it is destroyed). */
  function failure(error: unknown, exchange: Exchange, route: CompiledRoute, res: ServerResponse): GatewayError | undefined {
    const kind = exchange.headError === undefined ? classifyUpstreamError(error) : 'protocol';
    if (kind === 'request') {
      // undici refused what we would send (e.g. a method or path it cannot carry): the client's input
      return new GatewayError('BAD_REQUEST', 'The request cannot be forwarded.', { cause: error });
    }
    metrics.upstreamErrors.inc({ route: route.id, kind });
    log.warn({ route: route.id, kind, code: errorCode(error), headersSent: res.headersSent }, 'upstream request failed');
    if (res.headersSent) {
      res.destroy();
      return undefined;
    }
    return new GatewayError(kind === 'timeout' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNREACHABLE', undefined, { cause: error });
  }

  return {
    forward,
    upgrade: upgrader.upgrade,
    async close() {
      upgrader.close();
      // the server drained first; whatever is still in flight now is cut off
      await agent.destroy();
    },
  };
}
