import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { RequestContext } from './context.js';
import { wantsHtml } from './context.js';
import { escapeHtml, renderPage } from './pages.js';

/** The gateway's pages: no scripts at all, inline styles only, framed by `frameAncestors`. */
function pageCsp(frameAncestors: string): string {
  return `default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self' http: https:; frame-ancestors ${frameAncestors}; base-uri 'none'`;
}

/**
 * For the one page another site may frame (Front-Channel Logout: the IdP's iframe): CSP
 * frame-ancestors names that origin, and X-Frame-Options goes, since it can only say DENY or
 * SAMEORIGIN here and would contradict the CSP in browsers that still read it.
 */
export function allowFramingBy(res: ServerResponse, origin: string): void {
  res.setHeader('Content-Security-Policy', pageCsp(origin));
  res.removeHeader('X-Frame-Options');
}

/** Headers on every response the gateway itself makes (never on proxied upstream responses). */
export function securityHeaders(res: ServerResponse, options: { hsts: boolean; noStore: boolean }): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Content-Security-Policy', pageCsp("'none'"));
  if (options.noStore) res.setHeader('Cache-Control', 'no-store');
  if (options.hsts) res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
}

export interface ReplyOptions {
  status?: number;
  setCookies?: readonly string[];
  headers?: Readonly<Record<string, string | readonly string[]>>;
}

function begin(res: ServerResponse, ctx: RequestContext, options: ReplyOptions, contentType?: string): void {
  res.statusCode = options.status ?? 200;
  res.setHeader('X-Request-Id', ctx.id);
  if (contentType) res.setHeader('Content-Type', contentType);
  if (options.setCookies?.length) res.setHeader('Set-Cookie', [...options.setCookies]);
  for (const [name, value] of Object.entries(options.headers ?? {})) res.setHeader(name, value);
}

export function sendHtml(res: ServerResponse, ctx: RequestContext, html: string, options: ReplyOptions = {}): void {
  begin(res, ctx, options, 'text/html; charset=utf-8');
  res.end(html);
}

export function sendJson(res: ServerResponse, ctx: RequestContext, body: unknown, options: ReplyOptions = {}): void {
  begin(res, ctx, options, 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/** 302 (or 303 after a POST) to `location`, which the caller has already validated. */
export function sendRedirect(res: ServerResponse, ctx: RequestContext, location: string, options: ReplyOptions = {}): void {
  begin(res, ctx, { status: 302, ...options });
  res.setHeader('Location', location);
  res.end();
}

/** A simple page with a title and a paragraph (the message is escaped). */
export function sendMessagePage(
  res: ServerResponse,
  ctx: RequestContext,
  title: string,
  message: string,
  options: ReplyOptions = {},
): void {
  sendHtml(res, ctx, renderPage({ title, bodyHtml: `<p>${escapeHtml(message)}</p>`, requestId: ctx.id }), options);
}

/**
 * The one place errors become responses: HTML for browsers, JSON for API clients, always with
 * the request id, never with internals. Anything that is not a GatewayError is a 500.
 */
export function sendError(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, error: unknown): void {
  const gwError = error instanceof GatewayError ? error : new GatewayError('INTERNAL', undefined, { cause: error });
  if (gwError.status >= 500) ctx.log.error({ err: error, code: gwError.code }, 'request failed');
  else ctx.log.info({ code: gwError.code, reason: gwError.message }, 'request refused');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const message = gwError.expose ? gwError.message : gwError.title;
  const options: ReplyOptions = { status: gwError.status, headers: gwError.headers };
  if (wantsHtml(req)) {
    sendHtml(res, ctx, renderPage({ title: gwError.title, bodyHtml: `<p>${escapeHtml(message)}</p>`, requestId: ctx.id }), options);
  } else {
    sendJson(res, ctx, { error: gwError.code, message, request_id: ctx.id }, options);
  }
}
