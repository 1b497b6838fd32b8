import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { isValidHost, parseRequestTarget } from './request-context.js';

/**
 * The original request a forward-auth call asks about, read from the headers a trusted proxy set:
 * - `X-Original-URL` (a full URL: scheme, host, raw path and query) + `X-Original-Method` (nginx);
 * - `X-Forwarded-Proto` + `X-Forwarded-Host` + `X-Forwarded-Uri` + `X-Forwarded-Method`
 *   (Traefik ForwardAuth, Caddy forward_auth).
 * Only called for a trusted peer. Both forms at once is refused rather than one preferred: a proxy
 * sets one form and passes the client's other headers on, so a preference would let the client
 * name the request to judge (the 2026 oauth2-proxy X-Forwarded-Uri bypass).
 * Every value must be exactly one, well-formed: no lists, no whitespace, no guessing.
 */

const ORIGINAL_URL = /^(https?):\/\/([^/?#]*)(.*)$/i;
// RFC 9110 §9.1: a method is a token; a bound keeps the policy input small
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
// controls, spaces and anything beyond ASCII: a proxy sends the raw request target, never those
const UNSAFE = /[^\x21-\x7e]/;

function bad(message: string): GatewayError {
  return new GatewayError('BAD_REQUEST', message);
}

/** One header value as sent, or undefined; a repeated header is refused (which one would count?). */
function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw bad(`Forward-auth: ${name} was sent more than once.`);
  if (value === '' || UNSAFE.test(value)) throw bad(`Forward-auth: ${name} is empty or malformed.`);
  return value;
}

function method(headers: IncomingHttpHeaders, name: string): string {
  const value = single(headers, name);
  if (value === undefined) throw bad(`Forward-auth: ${name} is required (the original request's method).`);
  if (!METHOD.test(value)) throw bad(`Forward-auth: ${name} is not an HTTP method.`);
  return value;
}

interface Original {
  scheme: 'http' | 'https';
  host: string;
  target: string;
  method: string;
}

function fromOriginalUrl(headers: IncomingHttpHeaders, url: string): Original {
  const match = ORIGINAL_URL.exec(url);
  if (!match) throw bad('Forward-auth: X-Original-URL must be a full http(s) URL of the original request.');
  const host = match[2]!;
  // "user@host" and odd bytes never reach the route table (isValidHost refuses "@")
  if (!isValidHost(host)) throw bad('Forward-auth: X-Original-URL has no valid host.');
  const rest = match[3]!;
  const target = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  return { scheme: match[1]!.toLowerCase() as 'http' | 'https', host, target, method: method(headers, 'x-original-method') };
}

function fromForwarded(headers: IncomingHttpHeaders, uri: string): Original {
  const proto = single(headers, 'x-forwarded-proto');
  const host = single(headers, 'x-forwarded-host');
  if (proto !== 'http' && proto !== 'https') throw bad('Forward-auth: X-Forwarded-Proto must be "http" or "https".');
  if (!isValidHost(host)) throw bad('Forward-auth: X-Forwarded-Host is missing or malformed.');
  return { scheme: proto, host, target: uri, method: method(headers, 'x-forwarded-method') };
}

/**
 * The original request as a RequestContext for the pipeline: same id and log as the forward-auth
 * call, the original's scheme, host, path (normalized and refused exactly as on the proxy port),
 * query and method. Throws a 400 GatewayError for anything missing, repeated or malformed.
 */
export function originalRequestContext(headers: IncomingHttpHeaders, ctx: RequestContext): RequestContext {
  const url = single(headers, 'x-original-url');
  const uri = single(headers, 'x-forwarded-uri');
  if (url !== undefined && uri !== undefined) {
    throw bad('Forward-auth: the original request is named twice (X-Original-URL and X-Forwarded-Uri); the proxy must send one form only.');
  }
  if (url === undefined && uri === undefined) {
    throw bad('Forward-auth needs the original request: X-Original-URL and X-Original-Method, or X-Forwarded-Proto, -Host, -Uri and -Method.');
  }
  const original = url !== undefined ? fromOriginalUrl(headers, url) : fromForwarded(headers, uri!);
  const { rawPath, path, search } = parseRequestTarget(original.target);
  return {
    id: ctx.id,
    startedAt: ctx.startedAt,
    get log() {
      return ctx.log;
    },
    scheme: original.scheme,
    host: original.host.toLowerCase(),
    rawPath,
    path,
    search,
    clientIp: ctx.clientIp,
    trustForwarded: ctx.trustForwarded,
    method: original.method,
  };
}
