import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import { PassThrough, type Duplex } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { BufferReclaimer } from '../lib/buffer-reclaimer.js';
import type { CompiledRoute } from '../routes/types.js';
import type { Session } from '../session/types.js';
import { createCookieNamespace } from '../http/cookies.js';
import type { ConnectionRegistry, OpenConnection } from './connections.js';
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
  /** the request's context: the forwarder notes the upstream's response time on it */
  ctx?: RequestContext;
  /** the session admitted: its open WebSockets and streams end with it */
  session?: Session;
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
  /** Shutdown has begun: open WebSockets get a 1001 Close frame now and are cut after `deadlineMs`. */
  goAway(deadlineMs: number): void;
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
  /** where responses and WebSockets of a session are tracked while open, so they end with it */
  connections?: ConnectionRegistry;
  /** told of every body chunk (and WebSocket chunk) handed on, so their buffers are freed by bytes passed */
  reclaimer?: BufferReclaimer;
}

function asList(value: OutgoingHttpHeader): string[] {
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

type Settle = (error?: GatewayError) => void;

/**
 * One request in flight, as an undici dispatch handler: the response is written to `res` as it
 * arrives, with backpressure both ways (a slow client pauses the upstream read; the request body
 * is piped and so paused by undici's socket), and no promise chain or stream adapter per request.
 */
class Exchange implements Dispatcher.DispatchHandler, OpenConnection {
  controller: Dispatcher.DispatchController | undefined;
  /** the client went away before the response ended: abort upstream, render nothing */
  clientGone = false;
  /** the gateway ended the response (its session ended): abort upstream, render nothing */
  cut = false;
  readonly kind = 'stream';
  /** the upstream's response declared its length: cutting it short must not look complete */
  private sized = false;
  /** in the connection registry (by OpenResponseTracker) */
  tracked = false;
  done = false;
  /** writing the upstream's status/headers failed: the upstream's answer was malformed */
  headError = false;
  private draining = false;
  readonly dispatchedAt = performance.now();

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly route: CompiledRoute,
    readonly body: PassThrough | undefined,
    readonly isGatewayCookie: ((name: string) => boolean) | undefined,
    readonly fail: (exchange: Exchange, error: unknown) => GatewayError | undefined,
    readonly settle: Settle,
    readonly target: ForwardTarget,
    readonly tracker: OpenResponseTracker | undefined,
    readonly reclaimer: BufferReclaimer,
  ) {}

  get ctx(): RequestContext | undefined {
    return this.target.ctx;
  }

  get handle(): string {
    return this.target.session?.handle ?? '';
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  /** The session ended (or the policy changed): end the response where it stands. */
  close(): void {
    if (this.done) return;
    this.cut = true;
    this.controller?.abort(new Error('the session of this response ended'));
    // a chunked stream (SSE) ends cleanly, so the client sees its end; a sized body is cut
    if (this.sized) this.res.destroy();
    else this.res.end();
  }

  readonly onClientClose = (): void => {
    // the response did not finish: the client left (or the socket broke); stop the upstream side
    if (this.done || this.res.writableFinished) return;
    this.clientGone = true;
    this.controller?.abort(new Error('client closed the connection'));
  };

  private readonly onDrain = (): void => {
    this.draining = false;
    this.controller?.resume();
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error('client closed the connection'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    const res = this.res;
    if (this.ctx) this.ctx.upstreamMs = performance.now() - this.dispatchedAt;
    try {
      const out = filterResponseHeaders(headers);
      let upstreamCookies = out['set-cookie'];
      if (upstreamCookies !== undefined && this.isGatewayCookie !== undefined) {
        // an upstream must not be able to plant or clear the gateway's cookies
        upstreamCookies = withoutGatewayCookies(upstreamCookies, this.isGatewayCookie);
        if (upstreamCookies) out['set-cookie'] = upstreamCookies;
        else delete out['set-cookie'];
      }
      // the pipeline may already have set the renewed session cookie on `res`: keep both
      const own = res.getHeader('set-cookie');
      if (upstreamCookies !== undefined && own !== undefined) out['set-cookie'] = [...asList(own), ...asList(upstreamCookies)];
      res.writeHead(statusCode, out);
      this.sized = headers['content-length'] !== undefined;
      // a stream need not announce itself: whatever is still open after this tick is tracked
      if (this.tracker && this.target.session) this.tracker.later(this);
    } catch (error) {
      this.headError = true;
      this.controller?.abort(error as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // ended by close(): what the upstream still had in flight is dropped
    if (this.cut) return;
    this.reclaimer.passed(chunk.length);
    if (this.res.write(chunk) || this.draining) return;
    // a slow reader: stop reading from the upstream until the client has taken what it has
    this.draining = true;
    controller.pause();
    this.res.once('drain', this.onDrain);
  }

  onResponseEnd(): void {
    this.finish();
    this.res.end();
    this.settle();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.finish();
    if (this.clientGone || this.cut) return this.settle();
    const { req, body } = this;
    if (body && !req.complete) {
      // let node:http read and discard the rest of the upload so the error response can be read
      req.unpipe(body);
      req.resume();
    }
    this.settle(this.fail(this, error));
  }

  private finish(): void {
    this.done = true;
    if (this.tracked) this.tracker!.registry.remove(this);
    if (this.draining) this.res.off('drain', this.onDrain);
  }
}

/**
 * Tracks responses in the connection registry once the tick their head arrived in is over, and
 * only those still open then: most end in the same parse as their head. One microtask for all;
 * microtasks run before any other I/O callback, so no session event comes in between (one that
 * came while the request was judged is the registry sweep's to catch, as before).
 */
class OpenResponseTracker {
  private readonly heads: Exchange[] = [];
  constructor(readonly registry: ConnectionRegistry) {}

  later(exchange: Exchange): void {
    if (this.heads.push(exchange) === 1) queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    for (const exchange of this.heads) {
      if (exchange.done) continue;
      exchange.tracked = true;
      this.registry.add(exchange);
    }
    this.heads.length = 0;
  };
}

/** A request body on its way to undici, counted for the reclaimer (as cheap as the PassThrough it is). */
class CountedBody extends PassThrough {
  constructor(readonly reclaimer: BufferReclaimer) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error: null, chunk: Buffer) => void): void {
    this.reclaimer.passed(chunk.length);
    callback(null, chunk);
  }
}

const NO_RECLAIMER: BufferReclaimer = { passed() {} };

/** Requests without Content-Length or Transfer-Encoding have no body (RFC 9112 §6.3). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function createForwarder(deps: ForwarderDeps): Forwarder {
  const { metrics } = deps;
  const log = deps.logger.child({ part: 'forward' });
  const isGatewayCookie = deps.reservedCookieName ? createCookieNamespace(deps.reservedCookieName) : undefined;
  // a keep-alive Pool per upstream origin, owned by this forwarder (never global); held directly,
  // not through an Agent, which would wrap and look up each request once more on its way
  // (a reload that drops an origin leaves its Pool idle: its sockets close after keepAliveTimeout)
  const pools = new Map<string, Pool>();
  let closed = false;
  const poolFor = (origin: string): Pool => {
    let pool = pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: deps.connectionsPerOrigin ?? 128,
        connect: { timeout: deps.connectTimeoutMs ?? 10_000 },
        keepAliveTimeout: 4_000,
      });
      pools.set(origin, pool);
    }
    return pool;
  };
  const tracker = deps.connections ? new OpenResponseTracker(deps.connections) : undefined;
  const reclaimer = deps.reclaimer ?? NO_RECLAIMER;
  const upgrader = createUpgrader({
    logger: log,
    metrics,
    ...(isGatewayCookie ? { isGatewayCookie } : {}),
    ...(deps.connections ? { connections: deps.connections } : {}),
    ...(deps.reclaimer ? { reclaimer: deps.reclaimer } : {}),
  });

  function forward(req: IncomingMessage, res: ServerResponse, target: ForwardTarget): Promise<void> {
    const { route } = target;
    if (res.destroyed) return Promise.resolve();
    // after close() no Pool is made again (nothing would destroy it): as a closed Agent would, fail
    if (closed) return Promise.reject(new GatewayError('UPSTREAM_UNREACHABLE', 'The gateway is shutting down.'));
    let body: PassThrough | undefined;
    if (hasBody(req)) {
      // undici destroys a failed request's body; a pass-through keeps that from destroying the
      // client's socket, so a 502 can still be sent
      body = new CountedBody(reclaimer);
      req.pipe(body);
    }
    let headers = target.headers;
    if (headers.upgrade !== undefined || headers.connection !== undefined) {
      // undici refuses these; an upgrade that reached forward() is served as a plain request
      const { upgrade: _u, connection: _c, ...rest } = headers;
      headers = rest;
    }
    return new Promise<void>((resolve, reject) => {
      const exchange = new Exchange(
        req,
        res,
        route,
        body,
        isGatewayCookie,
        failure,
        (error) => (error ? reject(error) : resolve()),
        target,
        tracker,
        reclaimer,
      );
      // `on`, not `once`, and never removed: it checks `done` itself, and a wrapper per request is not free
      res.on('close', exchange.onClientClose);
      poolFor(route.to.origin).dispatch(
        {
          path: target.path,
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers,
          body: body ?? null,
          headersTimeout: route.timeoutMs,
          // streaming responses (SSE, long downloads) may idle legitimately; a client that leaves ends them
          bodyTimeout: 0,
        },
        exchange,
      );
    });
  }

  /** The error to render, or undefined once the response has begun (then it is destroyed). */
  function failure(exchange: Exchange, error: unknown): GatewayError | undefined {
    const { route, res } = exchange;
    const kind = exchange.headError ? 'protocol' : classifyUpstreamError(error);
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
    goAway: upgrader.goAway,
    async close() {
      upgrader.close();
      // the server drained first; whatever is still in flight now is cut off
      closed = true;
      await Promise.all([...pools.values()].map((pool) => pool.destroy()));
      pools.clear();
    },
  };
}
