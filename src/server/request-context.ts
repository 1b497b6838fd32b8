import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { normalizePath } from '../lib/path.js';
import type { Logger } from '../observability/logger.js';

export interface ContextOptions {
  /** is this peer address a trusted proxy (server.trust_forwarded_headers)? */
  trustProxy: (peerIp: string | undefined) => boolean;
  logger: Logger;
}

const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/** A Host (or X-Forwarded-Host) value the route table can read: a name or IP literal, optional port. */
export function isValidHost(host: string | undefined): host is string {
  return host !== undefined && HOST.test(host);
}

export interface RequestTarget {
  rawPath: string;
  path: string;
  search: string;
}

/**
 * An origin-form request target ("/path?query") split and normalized, or a 400 GatewayError.
 * Forward-auth reads the original request's target with this too, so it is refused and judged
 * exactly as the same target would be on the proxy port.
 */
export function parseRequestTarget(target: string): RequestTarget {
  if (!target.startsWith('/')) throw new GatewayError('BAD_REQUEST', 'The request target must be a path.');
  // a fragment is never part of a request target (RFC 9112 §3.2); parseurl and `new URL()` would
  // cut the path at it, so the upstream would serve another path than the one judged
  if (target.includes('#')) throw new GatewayError('BAD_PATH', 'The request target must not contain "#".');
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const search = q === -1 ? '' : target.slice(q);
  const path = normalizePath(rawPath);
  if (path === undefined) throw new GatewayError('BAD_PATH', 'The request path is malformed.');
  return { rawPath, path, search };
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  const one = Array.isArray(value) ? value[0] : value;
  return one?.split(',')[0]?.trim() || undefined;
}

/**
 * The client's address from X-Forwarded-For: the rightmost hop that is not a trusted proxy. Each
 * proxy appends its peer, so hops left of that are whatever the client wrote (leftmost would let
 * anyone behind a trusted proxy that appends, as nginx's proxy_add_x_forwarded_for and most load
 * balancers do, name any address). With `true` every hop is trusted: the leftmost, as before.
 */
export function clientFromForwardedFor(value: string | string[] | undefined, trusted: (ip: string) => boolean): string | undefined {
  if (value === undefined) return undefined;
  const hops = (Array.isArray(value) ? value.join(',') : value).split(',').map((hop) => hop.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (isIP(hop) === 0) return undefined; // a hop that is no address: trust nothing further left
    if (i === 0 || !trusted(hop)) return hop;
  }
  return undefined;
}

/**
 * The context of one request. A class, so every context has one shape with all its fields from
 * the start: the request path reads and sets them on every request, and an object built by
 * spreading or assigning fields onto a literal ended in dictionary mode (hash lookups, and a
 * rehash whenever `routeId` or `upstreamMs` was set later).
 */
class ServerRequestContext implements RequestContext {
  routeId: string | undefined = undefined;
  user: string | undefined = undefined;
  upstreamMs: number | undefined = undefined;
  readonly method: string | undefined = undefined;
  /** the request-scoped child logger, made on first use: most requests log only the access line */
  private child: Logger | undefined = undefined;

  constructor(
    readonly id: string,
    readonly startedAt: number,
    private readonly logger: Logger,
    readonly scheme: 'http' | 'https',
    readonly host: string,
    readonly rawPath: string,
    readonly path: string,
    readonly search: string,
    readonly clientIp: string,
    readonly trustForwarded: boolean,
  ) {}

  get log(): Logger {
    this.child ??= this.logger.child({ reqId: this.id });
    return this.child;
  }
}

/**
 * Everything the request path needs to know about a request, computed once. Throws a 400
 * GatewayError for requests no route could ever serve (no Host, absolute-form target,
 * malformed path); the caller renders it.
 */
export function createRequestContext(req: IncomingMessage, options: ContextOptions): RequestContext {
  const startedAt = performance.now();
  const id = randomUUID();
  const socketIp = req.socket.remoteAddress ?? '';
  const { rawPath, path, search } = parseRequestTarget(req.url ?? '');

  const trustForwarded = options.trustProxy(socketIp);
  let scheme: 'http' | 'https' = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  let host = req.headers.host;
  let clientIp = socketIp;
  if (trustForwarded) {
    const proto = firstHeader(req.headers['x-forwarded-proto']);
    if (proto === 'https' || proto === 'http') scheme = proto;
    host = firstHeader(req.headers['x-forwarded-host']) ?? host;
    clientIp = clientFromForwardedFor(req.headers['x-forwarded-for'], options.trustProxy) ?? socketIp;
  }
  if (!isValidHost(host)) throw new GatewayError('BAD_REQUEST', 'The Host header is missing or malformed.');
  return new ServerRequestContext(id, startedAt, options.logger, scheme, host.toLowerCase(), rawPath, path, search, clientIp, trustForwarded);
}

/** A context for requests rejected before one could be built: enough to render an error. */
export function fallbackContext(logger: Logger): RequestContext {
  return new ServerRequestContext(randomUUID(), performance.now(), logger, 'http', '', '/', '/', '', '', false);
}
