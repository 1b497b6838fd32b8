import type { IncomingMessage } from 'node:http';
import { createCookieNamespace, setCookieName, stripCookies } from '../http/cookies.js';

/** Request headers for the upstream: lower-case names, ready for undici or node:http. */
export type UpstreamHeaders = Record<string, string | string[]>;

declare const encoded: unique symbol;

/**
 * A user's identity headers (X-Portcullis-User, -Email, -Groups) as values ready to send: made
 * by identityValues, once per session rather than on every request (see the pipeline). Branded,
 * so nothing but identityValues can make one: the encoding is what keeps a group list exact.
 */
export interface IdentityValues {
  readonly user: string;
  /** undefined: the user has no email claim, and no email header is sent */
  readonly email: string | undefined;
  readonly groups: string;
  readonly [encoded]: true;
}

export interface UpstreamHeaderOptions {
  /** the gateway session cookie: it and its namespace are removed from Cookie, other cookies stay */
  cookieName: string;
  /** the gateway's cookie namespace (createCookieNamespace(cookieName) when absent) */
  isGatewayCookie?: (name: string) => boolean;
  identity?: IdentityValues;
  /** the signed identity assertion (X-Portcullis-Jwt-Assertion); sent only with an identity */
  assertion?: string;
  /** the client's address as the gateway decided it (first trusted X-Forwarded-For hop, or the peer) */
  clientIp: string;
  /** scheme and host as the browser sees them; `host` is the one the route was matched on */
  proto: 'http' | 'https';
  host: string;
  /** send `host` upstream as Host (never the raw client Host: with trusted forwarding it may differ) */
  preserveHost: boolean;
  /** route.to.host: the Host header when preserveHost is off */
  upstreamHost: string;
  /** server.trust_forwarded_headers: keep and extend the X-Forwarded-* chain a load balancer sent */
  trustForwarded: boolean;
  requestId: string;
  /** the request was admitted by its bearer token: the token is the gateway's to check, not the upstream's */
  dropAuthorization?: boolean;
}

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) plus the proxy-only ones; never forwarded in either
 * direction. `expect` is answered by node:http itself (100-continue) and undici refuses it;
 * `http2-settings` belongs to an h2c upgrade of this hop only.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'http2-settings',
  'expect',
]);

/**
 * Set by the gateway below, or never accepted from a client: whatever the client sent under these
 * names is dropped. The URL and method overrides make frameworks serve another path or method
 * than the one judged (IIS URL Rewrite, Laminas and older Symfony read X-Original-URL and
 * X-Rewrite-URL; Express method-override and ASP.NET Core's UseHttpMethodOverride read the rest).
 */
const GATEWAY_SET = new Set([
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-original-method',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

const IDENTITY_PREFIX = 'x-portcullis-';

/** Forwarding headers: kept only from a trusted load balancer, and only under their own spelling. */
function isForwarding(name: string): boolean {
  return name === 'forwarded' || name === 'x-real-ip' || name.startsWith('x-forwarded-');
}

/**
 * The name as servers that fold header names may read it: lower case, and every character other
 * than a letter or digit as "-". CGI-style servers (WSGI, Rack, PHP) turn both `X-Portcullis-User`
 * and `X_Portcullis_User` into HTTP_X_PORTCULLIS_USER, so a client could otherwise speak for the
 * gateway under a spelling it does not recognise (oauth2-proxy CVE-2025-64484).
 */
function foldHeaderName(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d)) return name.replace(/[^a-z0-9]/g, '-');
  }
  return name;
}

/** Node's header names are already lower case; `connection` may list more hop-by-hop names. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  // the usual values name nothing beyond what is dropped anyway: skip the parse (hot path)
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return undefined;
  const tokens = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const token = part.trim().toLowerCase();
    if (token) tokens.add(token);
  }
  return tokens;
}

/** Addresses like ::ffff:10.0.0.1 are IPv4 peers seen through a dual-stack socket. */
function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** Printable ASCII without "%", not starting or ending with a space: sent as is. */
const PLAIN_VALUE = /^(?:[\x21-\x24\x26-\x7e](?:[\x20-\x24\x26-\x7e]*[\x21-\x24\x26-\x7e])?)?$/;

/**
 * A claim value as a header value, reversibly: "%", control characters, characters beyond ASCII
 * and spaces at either end are percent-encoded (UTF-8), and everything else is kept, so
 * decodeURIComponent gives back exactly the claim. Lossy cleaning would let distinct users look
 * alike upstream ("admin " and "admin", "张" and "%E5%BC%A0"). CR and LF can never end the header.
 */
export function safeHeaderValue(value: string): string {
  if (PLAIN_VALUE.test(value)) return value;
  let out = '';
  const last = value.length - 1;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const edgeSpace = code === 0x20 && (i === 0 || i === last);
    if (code >= 0x20 && code <= 0x7e && code !== 0x25 && !edgeSpace) {
      out += value[i];
      continue;
    }
    // a whole code point (surrogate pairs together); a lone surrogate is encoded as U+FFFD
    const point = value.codePointAt(i)!;
    if (point > 0xffff) i++;
    const lone = point >= 0xd800 && point <= 0xdfff;
    for (const byte of Buffer.from(String.fromCodePoint(lone ? 0xfffd : point), 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Groups travel comma-separated, so a comma inside a group name is encoded to keep the list exact. */
function groupsValue(groups: readonly string[]): string {
  return groups.map((g) => safeHeaderValue(g).replaceAll(',', '%2C')).join(',');
}

/** The identity headers' values for `user`, encoded with safeHeaderValue (pure). */
export function identityValues(user: { readonly sub: string; readonly email?: string | undefined; readonly groups: readonly string[] }): IdentityValues {
  return {
    user: safeHeaderValue(user.sub),
    email: user.email === undefined ? undefined : safeHeaderValue(user.email),
    groups: groupsValue(user.groups),
  } as IdentityValues;
}

function joinValues(value: string | string[]): string {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The headers the upstream receives for `req`. Pure and allocation-light: it runs on every
 * proxied request. For an upgrade request (Connection: upgrade + Upgrade) the Upgrade header and
 * `Connection: upgrade` are kept; everything else hop-by-hop is dropped.
 */
export function buildUpstreamHeaders(req: IncomingMessage, opts: UpstreamHeaderOptions): UpstreamHeaders {
  const source = req.headers;
  const connection = connectionTokens(source.connection);
  const upgrade = source.upgrade !== undefined && connection?.has('upgrade') === true ? source.upgrade : undefined;
  const out: UpstreamHeaders = {};

  for (const key in source) {
    const value = source[key];
    if (value === undefined || key === '__proto__') continue;
    // node:http already lower-cases names; a hand-built request may not, and a spoofed
    // X-PORTCULLIS-USER must not slip through on case
    const name = key.toLowerCase();
    const folded = foldHeaderName(name);
    if (HOP_BY_HOP.has(folded) || GATEWAY_SET.has(folded) || connection?.has(name)) continue;
    if (folded.startsWith(IDENTITY_PREFIX)) continue;
    if (isForwarding(folded) && (!opts.trustForwarded || folded !== name)) {
      // an untrusted client could claim any address or scheme; only the gateway's own values go on
      continue;
    }
    if (name === 'cookie') {
      const cookies = Array.isArray(value) ? value.join('; ') : value;
      const kept = cookies.includes(opts.cookieName) ? stripCookies(cookies, opts.isGatewayCookie ?? createCookieNamespace(opts.cookieName)) : cookies;
      if (kept) out.cookie = kept;
      continue;
    }
    out[name] = value;
  }

  if (opts.dropAuthorization) delete out.authorization;

  if (upgrade !== undefined) {
    out.upgrade = upgrade;
    out.connection = 'upgrade';
  }

  const identity = opts.identity;
  if (identity) {
    out['x-portcullis-user'] = identity.user;
    if (identity.email !== undefined) out['x-portcullis-email'] = identity.email;
    out['x-portcullis-groups'] = identity.groups;
    // a compact JWS is base64url and dots by construction: nothing to encode, and it is the longest value
    if (opts.assertion !== undefined) out['x-portcullis-jwt-assertion'] = opts.assertion;
  }

  const chain = opts.trustForwarded ? source['x-forwarded-for'] : undefined;
  if (chain !== undefined && joinValues(chain).trim()) {
    // each proxy appends the address it received the request from (its peer), so the upstream
    // sees the whole path: client, load balancer(s), gateway's peer
    const peer = req.socket?.remoteAddress ? plainIp(req.socket.remoteAddress) : plainIp(opts.clientIp);
    out['x-forwarded-for'] = `${joinValues(chain).trim()}, ${peer}`;
  } else {
    out['x-forwarded-for'] = plainIp(opts.clientIp);
  }
  out['x-forwarded-proto'] = opts.proto;
  out['x-forwarded-host'] = opts.host;
  out['x-request-id'] = opts.requestId;
  out.host = opts.preserveHost ? opts.host : opts.upstreamHost;
  return out;
}

/**
 * Response headers from the upstream, minus hop-by-hop ones (including any the upstream named in
 * its own Connection header). node:http adds its own framing and keep-alive headers.
 */
export function filterResponseHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | string[]> {
  const connection = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name === '__proto__') continue;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connection?.has(lower)) continue;
    if (lower === 'clear-site-data') {
      // an upstream may clear its own caches and storage, but not the gateway's cookies
      const kept = withoutCookieClearing(value);
      if (kept !== undefined) out[lower] = kept;
      continue;
    }
    out[lower] = value;
  }
  return out;
}

/**
 * An upstream's Set-Cookie values without those that would land in the gateway's cookie
 * namespace as a browser parses them (`_portcullis =x` is stored as `_portcullis`), and without
 * nameless ones, which browsers send back as a bare value that reads as any name
 * (`=_portcullis=x` arrives as `_portcullis=x`). Undefined when none is left.
 */
export function withoutGatewayCookies(
  setCookies: string | readonly string[],
  isGatewayCookie: (name: string) => boolean,
): string[] | undefined {
  const kept: string[] = [];
  for (const value of typeof setCookies === 'string' ? [setCookies] : setCookies) {
    const name = setCookieName(String(value));
    if (name !== '' && !isGatewayCookie(name)) kept.push(String(value));
  }
  return kept.length ? kept : undefined;
}

/** Clear-Site-Data without "cookies" and "*" (which includes cookies); undefined when nothing is left. */
function withoutCookieClearing(value: string | string[]): string | undefined {
  const kept = (Array.isArray(value) ? value.join(',') : value)
    .split(',')
    .map((directive) => directive.trim())
    .filter((directive) => directive && directive !== '"cookies"' && directive !== '"*"');
  return kept.length ? kept.join(', ') : undefined;
}
