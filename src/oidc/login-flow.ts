import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { escapeHtml, renderPage } from '../http/pages.js';
import { normalizePath } from '../lib/path.js';
import { sendHtml, sendRedirect } from '../http/respond.js';
import { isRedirectAllowed } from '../routes/index.js';
import { handleOf, newSessionId } from '../session/ids.js';
import { IdpSessionEndedError } from '../session/store.js';
import { cookieMaxAgeSeconds } from '../session/lifecycle.js';
import type { AuthContext } from './endpoints.js';
import { authorizationError } from './errors.js';
import { handoffStartUrl } from './handoff-ticket.js';
import { sessionRecordFrom } from './session-record.js';

/** Longer return URLs lose their query, then fall back to the portal page (cookie size). */
const MAX_RETURN_TO = 2000;

/**
 * Login: send the browser to the IdP with a fresh transaction, and complete it at the
 * callback with a brand-new session (never a reused id: no fixation).
 */
export function createLoginFlow(ctx0: AuthContext) {
  const { config, oidc, store, sessionCookies, transactions, metrics, clock, publicUrl, urls } = ctx0;
  const log = ctx0.logger.child({ component: 'login' });
  const { scope } = ctx0;

  /** Will a transaction cookie set on this request's host be sent to public_url's callback? */
  function sharesCookiesWithCallback(ctx: RequestContext): boolean {
    return scope.covers(ctx.host);
  }

  function bounded(returnTo: URL): URL {
    if (returnTo.href.length <= MAX_RETURN_TO) return returnTo;
    const withoutQuery = new URL(returnTo.href);
    withoutQuery.search = '';
    withoutQuery.hash = '';
    return withoutQuery.href.length <= MAX_RETURN_TO ? withoutQuery : new URL(urls.portal);
  }

  /** Browsers with no session (from the proxy pipeline and /.portcullis/login): 302 to the IdP. */
  async function startLogin(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, returnTo: URL): Promise<void> {
    // a return address the session cookie cannot reach goes through the handoff, which reuses a
    // session public_url already has (one IdP sign-in for every domain); it begins on that host
    if (!scope.covers(returnTo.host)) return sendRedirect(res, ctx, handoffStartUrl(bounded(returnTo)));
    // the transaction cookie must be set on the host that receives the callback
    if (!sharesCookiesWithCallback(ctx)) return sendRedirect(res, ctx, `${urls.login}?rd=${encodeURIComponent(bounded(returnTo).href)}`);
    const { authorizationUrl, transaction } = await oidc.startLogin(bounded(returnTo));
    sendRedirect(res, ctx, authorizationUrl.href, { setCookies: await transactions.begin(req, transaction) });
  }

  /** GET /.portcullis/login?rd=URL — rd must be on a configured route (no open redirect). */
  async function login(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const rd = new URLSearchParams(ctx.search).get('rd');
    let target = new URL(urls.portal);
    if (rd !== null && rd !== '') {
      const allowed = hasEncodedControls(rd) ? undefined : isRedirectAllowed(ctx0.routes(), rd, publicUrl);
      if (!allowed) throw new GatewayError('BAD_REDIRECT', 'The address to return to after sign-in is not served by this gateway.');
      // returning to a gateway endpoint (e.g. the login itself) would loop: land on the portal instead
      // (normalized first: /%2Eportcullis/login is the same endpoint)
      const path = normalizePath(allowed.pathname);
      target = path === undefined || path === '/.portcullis' || path.startsWith('/.portcullis/') ? target : allowed;
    }
    await startLogin(req, res, ctx, target);
  }

  /** GET /.portcullis/callback — the OIDC redirect_uri. */
  async function callback(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const params = new URLSearchParams(ctx.search);
    const state = params.get('state') ?? undefined;
    try {
      if (params.has('error')) {
        // an IdP error counts only for a sign-in this browser started (the IdP returns its state,
        // RFC 6749 §4.1.2.1); a forged ?error= is a bad callback (400), never the IdP's 503
        let spent;
        try {
          spent = await transactions.take(req, state);
        } finally {
          setCookieHeaders(res, spent ? spent.setCookies : await transactions.cleanup(req, state));
        }
        throw authorizationError(params.get('error'));
      }
      let taken;
      try {
        taken = await transactions.take(req, state);
      } finally {
        if (!taken) setCookieHeaders(res, await transactions.cleanup(req, state));
      }
      const { transaction, setCookies } = taken;
      // the transaction is spent whatever happens next: its cookie goes
      setCookieHeaders(res, setCookies);

      const currentUrl = new URL(urls.callback);
      currentUrl.search = ctx.search;
      const result = await oidc.completeLogin(currentUrl, transaction);

      const now = clock.now();
      const id = newSessionId();
      const record = sessionRecordFrom({
        handle: handleOf(id),
        result,
        groupsClaim: config.idp.groups_claim,
        now,
        lifetimeMs: config.session.lifetime,
        userAgent: req.headers['user-agent'],
        ip: ctx.clientIp,
      });
      const previous = sessionCookies.read(req);
      if (previous) {
        await store.remove(handleOf(previous.id), 'replaced').catch((error: unknown) => {
          log.warn({ err: error }, 'could not remove the replaced session');
        });
      }
      try {
        await store.create(record);
      } catch (error) {
        if (error instanceof GatewayError) throw error;
        if (error instanceof IdpSessionEndedError) {
          // the IdP's back-channel logout for this very IdP session arrived before this callback
          log.info({ user: record.user.sub }, 'sign-in refused: its IdP session was ended meanwhile');
          throw new GatewayError('BAD_CALLBACK', 'Your sign-in was ended by the identity provider before it completed. Please sign in again.');
        }
        throw new GatewayError('STORE_UNAVAILABLE', 'Your session could not be saved. Please try again.', { cause: error });
      }
      const cookie = sessionCookies.issue(id, now, cookieMaxAgeSeconds(record, now, config.session.idle_timeout));
      metrics.logins.inc({ result: 'success' });
      await finish(res, ctx, id, transaction.returnTo, [...setCookies, cookie]);
    } catch (error) {
      metrics.logins.inc({ result: 'failure' });
      throw error;
    }
  }

  /** Set-Cookie headers that also survive into an error page rendered after a throw. */
  function setCookieHeaders(res: ServerResponse, cookies: string[]): void {
    if (cookies.length) res.setHeader('Set-Cookie', cookies);
  }

  /**
   * Back to where the user started. A SameSite=Strict session cookie is withheld on a redirect
   * chain that began at the IdP (cross-site), so the app would send the browser straight back to
   * login; a same-site page that moves on by itself breaks that chain.
   */
  async function finish(res: ServerResponse, ctx: RequestContext, sessionId: string, returnTo: string, setCookies: string[]): Promise<void> {
    const target = new URL(returnTo);
    if (!scope.covers(target.host)) {
      // a host the cookie cannot reach gets the new session through the handoff (begun on that host)
      return sendRedirect(res, ctx, handoffStartUrl(target), { setCookies });
    }
    if (config.cookie.same_site !== 'strict') return sendRedirect(res, ctx, returnTo, { setCookies });
    const href = escapeHtml(returnTo);
    const body = `<meta http-equiv="refresh" content="0;url=${href}"><p>Signed in. <a href="${href}">Continue</a></p>`;
    sendHtml(res, ctx, renderPage({ title: 'Signed in', bodyHtml: body, requestId: ctx.id }), { setCookies });
  }

  return { startLogin, login, callback };
}

/** `%0d%0a` and friends: harmless in a Location, but never a legitimate return address. */
export function hasEncodedControls(rd: string): boolean {
  return /%(?:[01][0-9a-f]|7f)/i.test(rd);
}
