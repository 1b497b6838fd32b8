import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { renderPage } from '../http/pages.js';
import { allowFramingBy, sendHtml } from '../http/respond.js';
import type { Tombstone } from '../session/types.js';
import type { AuthContext } from './endpoints.js';

/** IdP session ids are opaque strings; anything longer or with controls is not one. */
const MAX_SID_LENGTH = 255;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** The one value of `name` in the query; absent, or a 400 when it is repeated or empty. */
function single(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) throw new GatewayError('BAD_REQUEST', `The ${name} parameter is repeated.`);
  if (values.length === 1 && values[0] === '') throw new GatewayError('BAD_REQUEST', `The ${name} parameter is empty.`);
  return values[0];
}

/**
 * GET /.portcullis/frontchannel-logout — OpenID Connect Front-Channel Logout 1.0 §2–§4.
 * The IdP loads this page in a hidden iframe while the user signs out there.
 * - `iss` + `sid`: every session of that IdP session ends, on every replica (store tombstones),
 *   and a login still racing it is refused, as for back-channel logout.
 * - neither: the session whose cookie came with the request ends and the cookie is deleted.
 *   A cross-site iframe gets no SameSite=Lax cookie, so this form only works when the IdP and the
 *   gateway are the same site (or the cookie is SameSite=None): register
 *   `frontchannel_logout_session_required: true` so the IdP sends `iss` and `sid`.
 * The answer is a tiny page that only the IdP's origin may frame, never cached.
 */
export function createFrontchannelLogout(ctx0: AuthContext) {
  const { config, store, sessionCookies, metrics } = ctx0;
  const log = ctx0.logger.child({ component: 'frontchannel-logout' });
  const idpOrigin = new URL(config.idp.issuer).origin;

  function parse(search: string): { iss?: string; sid?: string } {
    const params = new URLSearchParams(search);
    const iss = single(params, 'iss');
    const sid = single(params, 'sid');
    // §2: "If either is included, both MUST be"
    if ((iss === undefined) !== (sid === undefined)) throw new GatewayError('BAD_REQUEST', 'iss and sid must be sent together.');
    if (iss !== undefined && iss !== config.idp.issuer) throw new GatewayError('BAD_REQUEST', 'The iss parameter does not name this gateway’s identity provider.');
    if (sid !== undefined && (sid.length > MAX_SID_LENGTH || !VISIBLE_ASCII.test(sid))) throw new GatewayError('BAD_REQUEST', 'The sid parameter is malformed.');
    return { ...(iss ? { iss } : {}), ...(sid ? { sid } : {}) };
  }

  return async function frontchannelLogout(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const { sid } = parse(ctx.search);
    // the cookie form acts on whoever's browser loads it: any site could send a victim here by a
    // link or redirect (a top-level navigation carries the Lax cookie) and sign them out. The IdP
    // loads it in a frame (Sec-Fetch-Dest: iframe); a page from another site is refused.
    if (!sid && isNavigationFromAnotherSite(req)) {
      throw new GatewayError('BAD_REQUEST', 'This address is for your identity provider to sign you out. To sign out, use Sign out on the gateway.');
    }
    const cookie = sessionCookies.read(req);
    let ended: Tombstone[];
    try {
      if (sid) {
        ended = await store.removeByIdpSid(sid, 'frontchannel', { refuseNewForMs: config.idp.login_timeout });
      } else {
        const tombstone = cookie ? await store.remove(cookie.handle, 'frontchannel') : undefined;
        ended = tombstone ? [tombstone] : [];
      }
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw new GatewayError('STORE_UNAVAILABLE', undefined, { cause: error });
    }
    if (ended.length) metrics.logouts.inc({ kind: 'frontchannel' }, ended.length);
    log.info({ by: sid ? 'sid' : 'cookie', sessions: ended.length }, 'front-channel logout');

    // this browser's cookie goes when its session was among those ended (or, without sid, always)
    const clearCookie = cookie && (!sid || ended.some((t) => t.handle === cookie.handle));
    allowFramingBy(res, idpOrigin);
    const body = `<p>${ended.length ? 'You have been signed out of this gateway.' : 'No session of this gateway was open.'}</p>`;
    sendHtml(res, ctx, renderPage({ title: 'Signed out', bodyHtml: body, requestId: ctx.id }), {
      headers: { 'Cache-Control': 'no-store' },
      ...(clearCookie ? { setCookies: [sessionCookies.clear(ctx.host)] } : {}),
    });
  };
}

/** A top-level page load that another site started (a link, a redirect, a form), per Fetch Metadata. */
function isNavigationFromAnotherSite(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return req.headers['sec-fetch-dest'] === 'document' && (site === 'cross-site' || site === 'same-site');
}
