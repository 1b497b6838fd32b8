import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { escapeHtml, renderPage } from '../http/pages.js';
import { sendHtml, sendRedirect } from '../http/respond.js';
import { deleteCookie, readCookie, serializeCookie, type CookieOptions } from '../http/cookies.js';
import { normalizePath } from '../lib/path.js';
import { randomToken, safeEqual } from '../lib/random.js';
import { isRedirectAllowed } from '../routes/index.js';
import { handleOf } from '../session/ids.js';
import { cookieMaxAgeSeconds, isLive } from '../session/lifecycle.js';
import type { AuthContext } from './endpoints.js';
import { HANDOFF_CHECK_PATH, HANDOFF_PATH, handoffCompleteUrl, handoffStartUrl } from './handoff-ticket.js';
import { hasEncodedControls } from './login-flow.js';

/** marks the one same-site retry of a handoff start (bounded: never a loop) */
const SAME_SITE_HOP = 'hop';
/** the nonce the target host's cookie holds, carried to public_url and into the ticket */
const NONCE_PARAM = 'nonce';
const NONCE_SHAPE = /^[A-Za-z0-9_-]{43}$/;
/** long enough for an IdP sign-in in between */
const NONCE_MAX_AGE_SECONDS = 15 * 60;

type StartLogin = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext, returnTo: URL) => Promise<void>;

/**
 * Single sign-on for route hosts the session cookie cannot reach (outside cookie.domain, or
 * another host than public_url's). The browser visits public_url, which holds the session
 * cookie, and comes back with a one-time ticket; the target host turns it into a host-only
 * cookie that names the same session, so one sign-out (a tombstone) ends every host at once.
 *
 *   app host ──► {app}/.portcullis/handoff?rd=URL               (sets a nonce cookie on the app host)
 *            ──► {public_url}/.portcullis/handoff?rd=URL&nonce=N (no session there: the IdP first)
 *            ◄── {app}/.portcullis/handoff/complete?ticket=T    (needs the nonce cookie; sets the app host's cookie)
 *            ──► {app}/.portcullis/handoff/check?rd=URL         (did the browser keep it? else an error page, no loop)
 *            ──► URL
 *
 * The nonce binds the ticket to the browser that began the handoff: without it, anyone could get
 * a ticket for their own session and have a victim's browser redeem it (login CSRF: the victim
 * would then act as the attacker on the app host).
 */
export function createHandoff(ctx0: AuthContext, startLogin: StartLogin) {
  const { config, store, sessionCookies, clock, publicUrl, scope, handoffTickets: tickets } = ctx0;
  const log = ctx0.logger.child({ component: 'handoff' });

  const originOf = (ctx: RequestContext): string => new URL(`${ctx.scheme}://${ctx.host}`).origin;
  const nonceCookieName = `${config.cookie.name}_handoff`;
  // Lax whatever cookie.same_site says: it must ride the cross-site redirect back from public_url
  const nonceCookie = (ctx: RequestContext): CookieOptions => ({
    path: HANDOFF_PATH,
    secure: config.cookie.secure === 'auto' ? ctx.scheme === 'https' : config.cookie.secure,
    httpOnly: true,
    sameSite: 'lax',
  });

  /** rd (or a ticket's return address) must be a configured route's URL; on `origin` when given. */
  function allowedReturn(rd: string | null, origin?: string): URL {
    const allowed = rd && !hasEncodedControls(rd) ? isRedirectAllowed(ctx0.routes(), rd, publicUrl) : undefined;
    const path = allowed && normalizePath(allowed.pathname);
    // back into the handoff itself would loop: never a return address
    if (!allowed || path === undefined || path.startsWith(HANDOFF_PATH) || (origin !== undefined && allowed.origin !== origin)) {
      throw new GatewayError('BAD_REDIRECT', 'The address to return to is not served by this gateway.');
    }
    return allowed;
  }

  function strictCookieWithheld(req: IncomingMessage, ctx: RequestContext): boolean {
    return (
      config.cookie.same_site === 'strict' &&
      req.headers['sec-fetch-site'] === 'cross-site' &&
      !new URLSearchParams(ctx.search).has(SAME_SITE_HOP)
    );
  }

  /** GET {public_url}/.portcullis/handoff?rd=URL — hands the session at public_url to rd's host. */
  async function start(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const params = new URLSearchParams(ctx.search);
    const here = originOf(ctx);
    if (here !== publicUrl.origin) {
      // the session cookie lives at public_url: go there (a fixed origin, no open redirect), after
      // binding the coming ticket to this browser when this is the host that will redeem it
      if (scope.covers(ctx.host)) return sendRedirect(res, ctx, `${publicUrl.origin}${HANDOFF_PATH}${ctx.search}`);
      const target = allowedReturn(params.get('rd'), here);
      const nonce = randomToken(32);
      const next = `${publicUrl.origin}${HANDOFF_PATH}?rd=${encodeURIComponent(target.href)}&${NONCE_PARAM}=${nonce}`;
      return sendRedirect(res, ctx, next, { setCookies: [serializeCookie(nonceCookieName, nonce, { ...nonceCookie(ctx), maxAgeSeconds: NONCE_MAX_AGE_SECONDS })] });
    }
    const target = allowedReturn(params.get('rd'));
    // the session cookie reaches that host already: nothing to hand off
    if (scope.covers(target.host)) return sendRedirect(res, ctx, target.href);
    const nonce = params.get(NONCE_PARAM);
    // not begun on the target host (an old link, or someone else's): begin there, once (it always adds a nonce)
    if (nonce === null || !NONCE_SHAPE.test(nonce)) return sendRedirect(res, ctx, handoffStartUrl(target));
    const resolved = await ctx0.resolveSession(req);
    if (!resolved.session && strictCookieWithheld(req, ctx)) {
      // a Strict cookie does not ride a navigation that came from another site (the app host):
      // a page of this site moves on by itself once, and that request carries it
      const again = escapeHtml(`${HANDOFF_PATH}${ctx.search}&${SAME_SITE_HOP}=1`);
      const body = `<meta http-equiv="refresh" content="0;url=${again}"><p><a href="${again}">Continue</a></p>`;
      return sendHtml(res, ctx, renderPage({ title: 'Signing in', bodyHtml: body, requestId: ctx.id }));
    }
    // one IdP sign-in, which comes back here (same nonce) to hand the new session to `target`
    if (!resolved.session) {
      return startLogin(req, res, ctx, new URL(`${HANDOFF_PATH}?rd=${encodeURIComponent(target.href)}&${NONCE_PARAM}=${nonce}`, publicUrl));
    }
    sendRedirect(res, ctx, await handoffCompleteUrl(tickets, resolved.id, target, nonce));
  }

  /** GET {app}/.portcullis/handoff/complete?ticket=T — redeems the ticket once, on any replica. */
  async function complete(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    // only hosts that need a handoff redeem tickets
    if (scope.covers(ctx.host)) throw new GatewayError('NOT_FOUND');
    const here = originOf(ctx);
    const ticket = await tickets.open(new URLSearchParams(ctx.search).get('ticket') ?? '');
    if (!ticket || ticket.origin !== here) {
      throw new GatewayError('BAD_REQUEST', 'This sign-in link is invalid or has expired. Open the application again.');
    }
    const returnTo = allowedReturn(ticket.returnTo, here);
    const nonce = readCookie(req.headers.cookie, nonceCookieName);
    if (nonce === undefined) {
      // most likely a browser that keeps no cookies here (else: a link from someone else)
      log.warn({ host: ctx.host }, 'handoff ticket redeemed without the nonce cookie');
      throw new GatewayError(
        'BAD_REQUEST',
        `Your browser did not keep the sign-in cookie for ${ctx.host}, or this sign-in link was not started in this browser. Allow cookies for this site (and use https if it requires secure cookies), then open the application again.`,
      );
    }
    if (!safeEqual(nonce, ticket.nonce)) {
      log.warn({ host: ctx.host }, 'handoff ticket redeemed by a browser that did not begin the handoff');
      throw new GatewayError('BAD_REQUEST', 'This sign-in link was not started in this browser. Open the application again.');
    }
    if (!(await store.claimOnce(`handoff\0${ticket.jti}`, tickets.ttlMs + 60_000))) {
      log.warn({ host: ctx.host }, 'handoff ticket replayed');
      throw new GatewayError('BAD_REQUEST', 'This sign-in link was already used. Open the application again.');
    }
    const handle = handleOf(ticket.sessionId);
    const now = clock.now();
    const session = store.peek(handle) ?? (await store.get(handle));
    if (!session || !isLive(session, now, config.session.idle_timeout)) {
      throw new GatewayError('BAD_REQUEST', 'The session for this sign-in has ended. Open the application again to sign in.');
    }
    const cookies = [
      sessionCookies.issue(ticket.sessionId, now, cookieMaxAgeSeconds(session, now, config.session.idle_timeout), ctx.host),
      deleteCookie(nonceCookieName, nonceCookie(ctx)),
    ];
    log.info({ host: ctx.host, session: handle, user: session.user.sub }, 'signed in on another domain');
    // the ticket leaves the address bar here: the next address carries none
    const check = `${HANDOFF_CHECK_PATH}?rd=${encodeURIComponent(returnTo.href)}`;
    if (config.cookie.same_site !== 'strict') return sendRedirect(res, ctx, check, { setCookies: cookies });
    // a Strict cookie is withheld on a redirect chain that began on another site: move on from a page
    const href = escapeHtml(check);
    const body = `<meta http-equiv="refresh" content="0;url=${href}"><p>Signed in. <a href="${href}">Continue</a></p>`;
    sendHtml(res, ctx, renderPage({ title: 'Signed in', bodyHtml: body, requestId: ctx.id }), { setCookies: cookies });
  }

  /**
   * GET {app}/.portcullis/handoff/check?rd=URL — the loop guard: a browser that refused the
   * cookie (third-party cookie rules, Secure over http) would bounce between the hosts forever,
   * so after one round it gets this page instead.
   */
  async function check(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const returnTo = allowedReturn(new URLSearchParams(ctx.search).get('rd'), originOf(ctx));
    if (!sessionCookies.read(req)) {
      log.warn({ host: ctx.host }, 'browser did not keep the handoff cookie');
      throw new GatewayError(
        'BAD_REQUEST',
        `Your browser did not keep the sign-in cookie for ${ctx.host}. Allow cookies for this site (and use https if it requires secure cookies), then open the application again.`,
      );
    }
    sendRedirect(res, ctx, returnTo.href);
  }

  return { start, complete, check };
}
