import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { wantsHtml, type RequestContext } from '../http/context.js';
import { escapeHtml, renderPage } from '../http/pages.js';
import type { Judgement, Pipeline } from '../proxy/pipeline.js';
import { handoffStartUrl } from '../oidc/handoff-ticket.js';
import { originalRequestContext } from './original-request.js';

type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>;

export interface ForwardAuthDeps {
  pipeline: Pick<Pipeline, 'judge'>;
  /** `${public_url}/.portcullis/login` */
  loginUrl: string;
  /** can the session cookie set at public_url reach this host? */
  cookieCovers(host: string): boolean;
}

/**
 * Forward-auth: another proxy (nginx, Traefik, Caddy) asks whether to forward a request, and the
 * gateway judges that original request exactly as if it were proxying it (route, path
 * normalization and refusals, session, policy on the upstream path, assertion).
 *
 * - `GET /.portcullis/auth` (nginx auth_request): 200 + identity headers, 401 (with
 *   WWW-Authenticate, and X-Portcullis-Login for a browser to be sent to), or 403.
 * - `GET /.portcullis/forward-auth` (Traefik, Caddy relay the answer as is): the same, except that
 *   a browser without a session gets a 302 to the sign-in, which returns to the original URL.
 *
 * Only a trusted proxy may ask (server.trust_forwarded_headers): anyone else gets 403
 * GW_UNTRUSTED_PROXY, and the headers naming the original request are never read from them.
 * An original URL on no configured route is denied (403), not 404: nginx turns any status but
 * 2xx/401/403 into a 500, and forward-auth fails closed.
 */
export function createForwardAuth(deps: ForwardAuthDeps): { auth: Handler; forwardAuth: Handler } {
  async function judge(req: IncomingMessage, ctx: RequestContext): Promise<{ original: RequestContext; judgement: Judgement }> {
    ctx.routeId = 'forward-auth';
    if (!ctx.trustForwarded) {
      throw new GatewayError('UNTRUSTED_PROXY', 'Forward-auth answers only the proxies listed in server.trust_forwarded_headers.');
    }
    const original = originalRequestContext(req.headers, ctx);
    try {
      const judgement = await deps.pipeline.judge(req, original);
      ctx.user = original.user;
      return { original, judgement };
    } catch (error) {
      ctx.user = original.user;
      if (error instanceof GatewayError && error.code === 'GW_NOT_FOUND') {
        ctx.log.info({ host: original.host, path: original.path }, 'forward-auth: no route for the original request');
        throw new GatewayError('FORBIDDEN', 'No application is configured at this address.');
      }
      throw error;
    }
  }

  /** Sign-in helps only a browser navigating (a page load), as on the proxy port. */
  function isNavigation(req: IncomingMessage, original: RequestContext): boolean {
    return wantsHtml(req) && (original.method === 'GET' || original.method === 'HEAD');
  }

  function signInUrl(original: RequestContext): string {
    const back = `${original.scheme}://${original.host}${original.rawPath}${original.search}`;
    // another domain gets its own cookie through the handoff, which reuses a session public_url has;
    // it begins on that host (which binds the ticket to this browser), so nginx must pass /.portcullis/ there
    if (!deps.cookieCovers(original.host)) return handoffStartUrl(new URL(back));
    return `${deps.loginUrl}?rd=${encodeURIComponent(back)}`;
  }

  function allow(res: ServerResponse, ctx: RequestContext, judgement: Extract<Judgement, { kind: 'allow' }>): void {
    res.statusCode = 200;
    res.setHeader('X-Request-Id', ctx.id);
    for (const [name, value] of Object.entries(judgement.identity)) res.setHeader(name, value);
    if (judgement.setCookie) res.setHeader('Set-Cookie', judgement.setCookie);
    res.end();
  }

  async function auth(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const { original, judgement } = await judge(req, ctx);
    if (judgement.kind === 'allow') return allow(res, ctx, judgement);
    const { error } = judgement;
    if (!isNavigation(req, original)) throw error;
    // nginx cannot URL-encode the original URL itself: it reads this with auth_request_set
    throw new GatewayError('UNAUTHENTICATED', error.message, { headers: { ...error.headers, 'X-Portcullis-Login': signInUrl(original) } });
  }

  async function forwardAuth(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const { original, judgement } = await judge(req, ctx);
    if (judgement.kind === 'allow') return allow(res, ctx, judgement);
    if (!isNavigation(req, original)) throw judgement.error;
    // relayed to the browser as is: a real page with a link, not a bare "Found"
    const location = signInUrl(original);
    res.statusCode = 302;
    res.setHeader('X-Request-Id', ctx.id);
    res.setHeader('Location', location);
    const cleared = judgement.error.headers['Set-Cookie'];
    if (cleared !== undefined) res.setHeader('Set-Cookie', cleared);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    const link = `<p>Please <a class="button" href="${escapeHtml(location)}">sign in</a> to continue.</p>`;
    res.end(renderPage({ title: 'Sign-in required', bodyHtml: link, requestId: ctx.id }));
  }

  return { auth, forwardAuth };
}
