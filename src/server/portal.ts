import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, signInRequired } from '../errors.js';
import type { AuthEndpoints, AuthHandler } from '../oidc/endpoints.js';
import type { RequestContext } from '../http/context.js';
import { sendHtml, sendJson, sendRedirect } from '../http/respond.js';
import { isSameOrigin } from '../http/same-origin.js';
import type { Clock } from '../lib/clock.js';
import type { Metrics } from '../observability/metrics.js';
import type { Runtime } from '../proxy/runtime.js';
import type { SessionResolver, ResolvedSession } from '../session/resolver.js';
import type { SessionCookies } from '../session/session-cookies.js';
import type { SessionStore } from '../session/store.js';
import type { Session } from '../session/types.js';
import { deviceName } from './device-name.js';
import { appsFor } from './user-apps.js';
import { renderUserPage, sessionView } from './user-page.js';

type Handler = AuthHandler;
type AuthHandlers = Pick<AuthEndpoints, 'login' | 'callback' | 'logout' | 'signedOut' | 'backchannelLogout' | 'frontchannelLogout' | 'handoff' | 'handoffComplete' | 'handoffCheck'>;

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
  /** the runtime in force now (routes and policies, swapped by a reload): the user's apps */
  runtime: () => Runtime;
  clock: Clock;
  /** /.portcullis/auth and /.portcullis/forward-auth (server/forward-auth.ts) */
  forwardAuth?: { auth: Handler; forwardAuth: Handler };
}) {
  const { auth, store } = deps;
  // user agents repeat across sessions and page views: parse each one once
  const devices = new Map<string, string | undefined>();
  function deviceOf(userAgent: string | undefined): string | undefined {
    if (!userAgent) return undefined;
    if (!devices.has(userAgent)) {
      if (devices.size >= 1000) devices.clear();
      devices.set(userAgent, deviceName(userAgent));
    }
    return devices.get(userAgent);
  }

  async function requireSession(req: IncomingMessage): Promise<ResolvedSession> {
    const resolved = await deps.resolveSession(req);
    if (!resolved.session) {
      throw signInRequired(`${deps.publicOrigin}/.portcullis/login`);
    }
    return resolved;
  }

  function describe(session: Session, current: string) {
    return sessionView(session, current, deviceOf(session.userAgent));
  }

  /** Mine, this one first, then the most recently seen. */
  async function mySessions(me: Session) {
    const sessions = await store.listBySub(me.user.sub);
    return sessions
      .map((s) => describe(s, me.handle))
      .sort((a, b) => Number(b.current) - Number(a.current) || b.last_seen_at.localeCompare(a.last_seen_at));
  }

  function checkSameOrigin(req: IncomingMessage, ctx: RequestContext): void {
    if (!isSameOrigin(req, [deps.publicOrigin, `${ctx.scheme}://${ctx.host}`])) throw new GatewayError('CROSS_SITE');
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
    sendJson(res, ctx, { sessions: await mySessions(session), apps: appsFor(deps.runtime(), session) });
  }

  /** Ends a session of mine as the user's own act; a store failure is a 503, never a 500. */
  async function endAsUser(handle: string): Promise<boolean> {
    try {
      return (await store.remove(handle, 'user')) !== undefined;
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw new GatewayError('STORE_UNAVAILABLE', undefined, { cause: error });
    }
  }

  async function endOtherSessions(me: ResolvedSession): Promise<void> {
    let ended = 0;
    for (const other of await store.listBySub(me.session.user.sub)) {
      if (other.handle !== me.handle && (await endAsUser(other.handle))) ended++;
    }
    if (ended) deps.metrics.logouts.inc({ kind: 'user' }, ended);
  }

  /** POST /.portcullis/sessions/end-others: every session of mine but this one. */
  async function endOthers(req: IncomingMessage, res: ServerResponse, ctx: RequestContext) {
    checkSameOrigin(req, ctx);
    await endOtherSessions(await requireSession(req));
    sendRedirect(res, ctx, '/.portcullis/', { status: 303 });
  }

  /**
   * POST /.portcullis/sessions/end-all: every other session, then this one exactly as the sign-out
   * button does (cookie deleted, then the IdP's end-session endpoint, else the signed-out page).
   */
  async function endAll(req: IncomingMessage, res: ServerResponse, ctx: RequestContext) {
    checkSameOrigin(req, ctx);
    const resolved = await deps.resolveSession(req);
    if (resolved.session) await endOtherSessions(resolved);
    return auth.logout(req, res, ctx);
  }

  /** DELETE /.portcullis/sessions/{id}, or POST …/{id}/end from the user page's form. */
  async function endSession(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, handle: string, fromForm: boolean) {
    checkSameOrigin(req, ctx);
    const me = await requireSession(req);
    const target = (await store.listBySub(me.session.user.sub)).find((s) => s.handle === handle);
    if (!target) throw new GatewayError('NOT_FOUND', 'No such session.');
    if (await endAsUser(handle)) deps.metrics.logouts.inc({ kind: 'user' });
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
    const html = renderUserPage({
      session,
      views: await mySessions(session),
      apps: appsFor(deps.runtime(), session),
      now: deps.clock.now(),
      requestId: ctx.id,
    });
    sendHtml(res, ctx, html);
  }

  const exact: Record<string, Partial<Record<string, Handler>>> = {
    '/.portcullis/': { GET: userPage, HEAD: userPage },
    '/.portcullis/login': { GET: auth.login },
    '/.portcullis/callback': { GET: auth.callback },
    '/.portcullis/logout': { GET: auth.logout, POST: auth.logout },
    '/.portcullis/signed-out': { GET: auth.signedOut },
    '/.portcullis/backchannel-logout': { POST: auth.backchannelLogout },
    '/.portcullis/frontchannel-logout': { GET: auth.frontchannelLogout },
    '/.portcullis/handoff': { GET: auth.handoff },
    '/.portcullis/handoff/complete': { GET: auth.handoffComplete },
    '/.portcullis/handoff/check': { GET: auth.handoffCheck },
    '/.portcullis/userinfo': { GET: userinfo },
    '/.portcullis/sessions': { GET: listSessions },
    '/.portcullis/sessions/end-others': { POST: endOthers },
    '/.portcullis/sessions/end-all': { POST: endAll },
  };
  if (deps.forwardAuth) {
    const { auth: check, forwardAuth } = deps.forwardAuth;
    // proxies ask with GET (nginx subrequests, Traefik, Caddy); HEAD costs nothing more
    exact['/.portcullis/auth'] = { GET: check, HEAD: check };
    exact['/.portcullis/forward-auth'] = { GET: forwardAuth, HEAD: forwardAuth };
  }

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
