import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { renderPage } from '../http/pages.js';
import { sendHtml, sendRedirect } from '../http/respond.js';
import { isSameOrigin } from '../http/same-origin.js';
import { randomToken } from '../lib/random.js';
import { handleOf } from '../session/ids.js';
import type { SessionRecord } from '../session/types.js';
import type { AuthContext } from './endpoints.js';

/**
 * Sign-out: GET shows a confirmation form, POST (same-origin only) ends the session in the
 * store — so a replayed cookie is dead on every replica — deletes the cookie with the same
 * name, path and domain, and sends the browser to the IdP's end_session_endpoint
 * (RP-Initiated Logout 1.0) or, without one, to the signed-out page.
 */
export function createLogout(ctx0: AuthContext) {
  const { oidc, store, sessionCookies, metrics, urls } = ctx0;
  const log = ctx0.logger.child({ component: 'logout' });

  function confirmPage(res: ServerResponse, ctx: RequestContext): void {
    const body = `<p>Sign out of every application behind this gateway?</p>
<form method="post" action="/.portcullis/logout"><button type="submit">Sign out</button></form>`;
    sendHtml(res, ctx, renderPage({ title: 'Sign out', bodyHtml: body, requestId: ctx.id }));
  }

  async function logout(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') return confirmPage(res, ctx);
    if (method !== 'POST') throw new GatewayError('METHOD_NOT_ALLOWED', undefined, { headers: { Allow: 'GET, POST' } });
    // CSRF: a cross-site page must not be able to sign people out (and the session survives)
    if (!isSameOrigin(req, [ctx0.publicUrl.origin, `${ctx.scheme}://${ctx.host}`])) {
      log.info({ origin: req.headers.origin, fetchSite: req.headers['sec-fetch-site'] }, 'cross-site sign-out refused');
      throw new GatewayError('CROSS_SITE', 'Sign-out must be requested from this site.');
    }

    const clear = sessionCookies.clear(ctx.host);
    const cookie = sessionCookies.read(req);
    let record: SessionRecord | undefined;
    let hadSession = false;
    if (cookie) {
      const handle = handleOf(cookie.id);
      // the mirror answers even while the store is down; the record (with the id token) may not
      hadSession = store.peek(handle) !== undefined;
      record = await store.load(handle).catch(() => undefined);
      try {
        // RP-initiated logout; the store's audit line says who and which session
        if (await store.remove(handle, 'logout')) metrics.logouts.inc({ kind: 'rp' });
      } catch (error) {
        res.setHeader('Set-Cookie', clear);
        if (error instanceof GatewayError) throw error;
        throw new GatewayError('STORE_UNAVAILABLE', 'Sign-out could not be completed. Please try again.', { cause: error });
      }
      // best effort, not awaited: the IdP's own logout revokes the grant too
      const refreshToken = record?.tokens.refreshToken;
      if (refreshToken) void oidc.revoke(refreshToken, 'refresh_token');
    }

    // the IdP session ends too; without the id token (store down, or a session restored after
    // Redis lost its data) the request still names the client, and the IdP asks the user to confirm
    const endSession = record || hadSession
      ? oidc.endSessionUrl({
          idTokenHint: record?.tokens.idToken || undefined,
          postLogoutRedirectUri: urls.signedOut,
          state: randomToken(16),
        })
      : undefined;
    sendRedirect(res, ctx, endSession ?? urls.signedOut, { status: 303, setCookies: [clear] });
  }

  async function signedOut(_req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const body = `<p>You have been signed out.</p><p><a class="button" href="/.portcullis/login">Sign in again</a></p>`;
    sendHtml(res, ctx, renderPage({ title: 'Signed out', bodyHtml: body, requestId: ctx.id }));
  }

  return { logout, signedOut };
}
