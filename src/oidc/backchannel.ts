import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { sendJson } from '../http/respond.js';
import type { AuthContext } from './endpoints.js';
import { LogoutTokenError } from './errors.js';
import { readFormBody } from './form-body.js';
import { MAX_LOGOUT_TOKEN_LENGTH } from './logout-token.js';

/** A logout_token plus form encoding overhead; anything bigger is not from an IdP. */
const MAX_BODY_BYTES = MAX_LOGOUT_TOKEN_LENGTH + 1024;

/**
 * POST /.portcullis/backchannel-logout — OpenID Connect Back-Channel Logout 1.0 §2.5–2.8.
 * The IdP posts a signed logout token; the sessions it names (by `sid`, else every session of
 * `sub`) end on every replica through the store's tombstones. 200 on success, 400 with
 * {"error":"invalid_request"} for a bad request or token, always Cache-Control: no-store.
 */
export function createBackchannelLogout(ctx0: AuthContext) {
  const { config, oidc, store, metrics } = ctx0;
  const log = ctx0.logger.child({ component: 'backchannel-logout' });
  const noStore = { 'Cache-Control': 'no-store' };

  function invalid(res: ServerResponse, ctx: RequestContext, description: string): void {
    sendJson(res, ctx, { error: 'invalid_request', error_description: description }, { status: 400, headers: noStore });
  }

  return async function backchannelLogout(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    let token: string | null;
    try {
      token = (await readFormBody(req, MAX_BODY_BYTES)).get('logout_token');
    } catch (error) {
      if (error instanceof GatewayError && error.headers.Connection) res.setHeader('Connection', 'close');
      return invalid(res, ctx, error instanceof GatewayError ? error.message : 'unreadable request');
    }
    if (!token) return invalid(res, ctx, 'logout_token is required');

    let subject;
    try {
      subject = await oidc.verifyLogoutToken(token);
    } catch (error) {
      if (error instanceof LogoutTokenError) {
        log.info({ reason: error.message }, 'logout token refused');
        return invalid(res, ctx, 'the logout token is not valid');
      }
      if (error instanceof GatewayError && error.code === 'GW_IDP_UNAVAILABLE') {
        log.warn({ reason: error.message }, 'logout token could not be verified now');
        return sendJson(res, ctx, { error: 'temporarily_unavailable' }, { status: 503, headers: { ...noStore, 'Retry-After': '5' } });
      }
      throw error;
    }

    // §2.7: with a sid, only the sessions of that IdP session; without one, all of the user's
    let ended;
    try {
      // §2.6 step 8 (jti, errata 1): a token works once, on every replica, for as long as it would pass
      const { iss, jti, acceptedForMs } = subject.token;
      if (!(await store.claimOnce(`backchannel-logout\0${iss}\0${jti}`, acceptedForMs))) {
        log.info({ by: subject.sid ? 'sid' : 'sub' }, 'logout token refused: already used (replay)');
        return invalid(res, ctx, 'the logout token was already used');
      }
      ended = subject.sid
        ? // a login racing this logout (its callback still on the way) is refused for as long
          // as any login transaction started before now could still complete
          await store.removeByIdpSid(subject.sid, 'backchannel', { refuseNewForMs: config.idp.login_timeout })
        : // a sub-only logout ends what exists; a login after it carries a new IdP session
          await store.removeBySub(subject.sub!, 'backchannel');
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw new GatewayError('STORE_UNAVAILABLE', undefined, { cause: error });
    }
    if (ended.length) metrics.logouts.inc({ kind: 'backchannel' }, ended.length);
    log.info({ by: subject.sid ? 'sid' : 'sub', sessions: ended.length }, 'back-channel logout');

    res.statusCode = 200;
    res.setHeader('X-Request-Id', ctx.id);
    res.setHeader('Cache-Control', 'no-store');
    res.end();
  };
}
