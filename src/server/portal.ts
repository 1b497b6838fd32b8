import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, signInRequired } from '../errors.js';
import type { AuthEndpoints, AuthHandler } from '../oidc/endpoints.js';
import type { RequestContext } from '../http/context.js';
import { escapeHtml, renderPage } from '../http/pages.js';
import { sendHtml, sendJson, sendRedirect } from '../http/respond.js';
import { isSameOrigin } from '../http/same-origin.js';
import type { Metrics } from '../observability/metrics.js';
import type { SessionResolver, ResolvedSession } from '../session/resolver.js';
import type { SessionCookies } from '../session/session-cookies.js';
import type { SessionStore } from '../session/store.js';
import type { Session } from '../session/types.js';

type Handler = AuthHandler;
type AuthHandlers = Pick<AuthEndpoints, 'login' | 'callback' | 'logout' | 'signedOut' | 'backchannelLogout' | 'handoff' | 'handoffComplete' | 'handoffCheck'>;

export const PORTAL_PREFIX = '/.portcullis/';

/**
 * /.portcullis/*: the OIDC endpoints (from oidc/) and the user's own page and sessions API.
 * Works on every host the gateway serves, so app subdomains can sign out too.
 */
export function createPortal(deps: {
  auth: AuthHandlers;
  store: SessionStore;
  resolveSession: SessionResolver;
  sessionCookies: SessionCookies;
  metrics: Metrics;
  publicOrigin: string;
}) {
  const { auth, store } = deps;

  async function requireSession(req: IncomingMessage): Promise<ResolvedSession> {
    const resolved = await deps.resolveSession(req);
    if (!resolved.session) {
      throw signInRequired(`${deps.publicOrigin}/.portcullis/login`);
    }
    return resolved;
  }

  function describe(session: Session, current: string) {
    return {
      id: session.handle,
      current: session.handle === current,
      created_at: new Date(session.createdAt).toISOString(),
      last_seen_at: new Date(session.lastSeenAt).toISOString(),
      expires_at: new Date(session.expiresAt).toISOString(),
      user_agent: session.userAgent ?? null,
    };
  }

  async function userinfo(req: IncomingMessage, res: ServerResponse, ctx: RequestContext) {
    const { session } = await requireSession(req);
    sendJson(res, ctx, {
      sub: session.user.sub,
      email: session.user.email ?? null,
      name: session.user.name ?? null,
      groups: session.user.groups,
      session: describe(session, session.handle),
    });
  }

  async function listSessions(req: IncomingMessage, res: ServerResponse, ctx: RequestContext) {
    const { session } = await requireSession(req);
    const sessions = await store.listBySub(session.user.sub);
    sendJson(res, ctx, { sessions: sessions.map((s) => describe(s, session.handle)) });
  }

  /** DELETE /.portcullis/sessions/{id}, or POST …/{id}/end from the user page's form. */
  async function endSession(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, handle: string, fromForm: boolean) {
    if (!isSameOrigin(req, [deps.publicOrigin, `${ctx.scheme}://${ctx.host}`])) throw new GatewayError('CROSS_SITE');
    const me = await requireSession(req);
    const target = (await store.listBySub(me.session.user.sub)).find((s) => s.handle === handle);
    if (!target) throw new GatewayError('NOT_FOUND', 'No such session.');
    await store.remove(handle, 'user');
    deps.metrics.logouts.inc({ kind: 'user' });
    const setCookies = handle === me.handle ? [deps.sessionCookies.clear(ctx.host)] : [];
    if (fromForm) return sendRedirect(res, ctx, handle === me.handle ? '/.portcullis/signed-out' : '/.portcullis/', { status: 303, setCookies });
    res.statusCode = 204;
    res.setHeader('X-Request-Id', ctx.id);
    if (setCookies.length) res.setHeader('Set-Cookie', setCookies);
    res.end();
  }

  async function userPage(req: IncomingMessage, res: ServerResponse, ctx: RequestContext) {
    const resolved = await deps.resolveSession(req);
    if (!resolved.session) return sendRedirect(res, ctx, '/.portcullis/login');
    const { session } = resolved;
    const sessions = await store.listBySub(session.user.sub);
    const rows = sessions
      .map((s) => {
        const d = describe(s, session.handle);
        return `<tr><td>${escapeHtml(d.user_agent ?? 'unknown')}${d.current ? ' <b>(this one)</b>' : ''}</td><td>${escapeHtml(d.last_seen_at)}</td>
<td><form method="post" action="/.portcullis/sessions/${encodeURIComponent(s.handle)}/end"><button type="submit">End</button></form></td></tr>`;
      })
      .join('');
    const body = `<p>Signed in as <b>${escapeHtml(session.user.email ?? session.user.sub)}</b> (<code>${escapeHtml(session.user.sub)}</code>).</p>
<p>Groups: ${escapeHtml(session.user.groups.join(', ') || 'none')}</p>
<h2>Your sessions</h2><table><tr><th>Client</th><th>Last seen</th><th></th></tr>${rows}</table>
<p><form method="post" action="/.portcullis/logout"><button type="submit">Sign out</button></form></p>`;
    sendHtml(res, ctx, renderPage({ title: 'Portcullis', bodyHtml: body, requestId: ctx.id }));
  }

  const exact: Record<string, Partial<Record<string, Handler>>> = {
    '/.portcullis/': { GET: userPage, HEAD: userPage },
    '/.portcullis/login': { GET: auth.login },
    '/.portcullis/callback': { GET: auth.callback },
    '/.portcullis/logout': { GET: auth.logout, POST: auth.logout },
    '/.portcullis/signed-out': { GET: auth.signedOut },
    '/.portcullis/backchannel-logout': { POST: auth.backchannelLogout },
    '/.portcullis/handoff': { GET: auth.handoff },
    '/.portcullis/handoff/complete': { GET: auth.handoffComplete },
    '/.portcullis/handoff/check': { GET: auth.handoffCheck },
    '/.portcullis/userinfo': { GET: userinfo },
    '/.portcullis/sessions': { GET: listSessions },
  };

  const SESSION_PATH = /^\/\.portcullis\/sessions\/([A-Za-z0-9_-]{1,64})(\/end)?$/;

  return async function handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const method = req.method ?? 'GET';
    const methods = exact[ctx.path];
    if (methods) {
      const handler = methods[method];
      if (!handler) throw new GatewayError('METHOD_NOT_ALLOWED', undefined, { headers: { Allow: Object.keys(methods).join(', ') } });
      return handler(req, res, ctx);
    }
    const match = SESSION_PATH.exec(ctx.path);
    if (match) {
      const fromForm = match[2] !== undefined;
      if ((fromForm && method === 'POST') || (!fromForm && method === 'DELETE')) {
        return endSession(req, res, ctx, match[1]!, fromForm);
      }
      throw new GatewayError('METHOD_NOT_ALLOWED');
    }
    throw new GatewayError('NOT_FOUND');
  };
}

export function isPortalPath(path: string): boolean {
  return path.startsWith(PORTAL_PREFIX) || path === '/.portcullis';
}
