import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/index.js';
import type { RequestContext } from '../http/context.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { RouteTable } from '../routes/index.js';
import { createCookieScope, type CookieScope } from '../session/cookie-scope.js';
import type { SessionResolver } from '../session/resolver.js';
import type { SessionCookies } from '../session/session-cookies.js';
import type { SessionStore } from '../session/store.js';
import { createBackchannelLogout } from './backchannel.js';
import { createFrontchannelLogout } from './frontchannel.js';
import { createHandoff } from './handoff.js';
import { createHandoffTickets, HANDOFF_PATH, type HandoffTickets } from './handoff-ticket.js';
import { createLoginFlow } from './login-flow.js';
import { createLogout } from './logout.js';
import { createTransactionCookies, type TransactionCookies } from './transaction.js';
import type { OidcClient } from './types.js';
import { portcullisUrl } from './urls.js';

export type AuthHandler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>;

export interface AuthEndpointsDeps {
  config: Config;
  oidc: OidcClient;
  store: SessionStore;
  sessionCookies: SessionCookies;
  resolveSession: SessionResolver;
  /** the route table in force now (a reload swaps it): rd= must name one of its routes */
  routes: () => RouteTable;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
}

/** What the login, logout and back-channel handlers share (built once per runtime). */
export interface AuthContext extends AuthEndpointsDeps {
  publicUrl: URL;
  transactions: TransactionCookies;
  /** which hosts the session cookie set at public_url reaches (the rest need a handoff) */
  scope: CookieScope;
  handoffTickets: HandoffTickets;
  urls: { login: string; callback: string; signedOut: string; portal: string; handoff: string };
}

export interface AuthEndpoints {
  /** For the proxy pipeline: a browser without a session is sent to the IdP (302), returning to `returnTo`. */
  startLogin(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, returnTo: URL): Promise<void>;
  /** GET /.portcullis/login?rd=URL */
  login: AuthHandler;
  /** GET /.portcullis/callback */
  callback: AuthHandler;
  /** GET (confirm page) and POST (sign out) /.portcullis/logout */
  logout: AuthHandler;
  /** GET /.portcullis/signed-out */
  signedOut: AuthHandler;
  /** POST /.portcullis/backchannel-logout */
  backchannelLogout: AuthHandler;
  /** GET /.portcullis/frontchannel-logout?iss=&sid= */
  frontchannelLogout: AuthHandler;
  /** GET /.portcullis/handoff?rd=URL (public_url): hands the session to a host its cookie cannot reach */
  handoff: AuthHandler;
  /** GET /.portcullis/handoff/complete?ticket=T (that host): redeems the one-time ticket */
  handoffComplete: AuthHandler;
  /** GET /.portcullis/handoff/check?rd=URL (that host): did the browser keep the cookie? */
  handoffCheck: AuthHandler;
}

/**
 * The /.portcullis/* endpoints that speak OIDC. Handlers throw GatewayError for every refusal;
 * the server renders it (HTML for browsers, JSON otherwise). Only the back-channel receiver
 * answers with its own JSON, because the spec fixes its shape.
 */
export function createAuthEndpoints(deps: AuthEndpointsDeps): AuthEndpoints {
  const { config } = deps;
  const publicUrl = new URL(config.server.public_url);
  const context: AuthContext = {
    ...deps,
    publicUrl,
    transactions: createTransactionCookies({
      cookieName: config.cookie.name,
      secret: config.cookie.secret,
      domain: config.cookie.domain,
      secure: config.cookie.secure === 'auto' ? publicUrl.protocol === 'https:' : config.cookie.secure,
      loginTimeoutMs: config.idp.login_timeout,
      clock: deps.clock,
    }),
    scope: createCookieScope({ domain: config.cookie.domain, publicHost: publicUrl.hostname }),
    handoffTickets: createHandoffTickets({ secret: config.cookie.secret, clock: deps.clock }),
    urls: {
      handoff: portcullisUrl(config.server.public_url, HANDOFF_PATH),
      login: portcullisUrl(config.server.public_url, '/.portcullis/login'),
      callback: portcullisUrl(config.server.public_url, '/.portcullis/callback'),
      signedOut: portcullisUrl(config.server.public_url, '/.portcullis/signed-out'),
      portal: portcullisUrl(config.server.public_url, '/.portcullis/'),
    },
  };
  const loginFlow = createLoginFlow(context);
  const logout = createLogout(context);
  const handoff = createHandoff(context, loginFlow.startLogin);
  return {
    startLogin: loginFlow.startLogin,
    login: loginFlow.login,
    callback: loginFlow.callback,
    logout: logout.logout,
    signedOut: logout.signedOut,
    backchannelLogout: createBackchannelLogout(context),
    frontchannelLogout: createFrontchannelLogout(context),
    handoff: handoff.start,
    handoffComplete: handoff.complete,
    handoffCheck: handoff.check,
  };
}
