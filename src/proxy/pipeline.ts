import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { bearerChallenge, GatewayError, invalidToken, signInRequired } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { wantsHtml } from '../http/context.js';
import { createCookieNamespace } from '../http/cookies.js';
import type { AssertionSubject } from '../keys/assertion.js';
import type { Clock } from '../lib/clock.js';
import type { BearerOutcome, BearerPrincipal } from '../oidc/access-tokens.js';
import type { Decision, Subject } from '../policy/types.js';
import type { CompiledRoute } from '../routes/types.js';
import { cookieRenewal, shouldTouch } from '../session/lifecycle.js';
import type { SessionResolver } from '../session/resolver.js';
import type { SessionCookies } from '../session/session-cookies.js';
import type { SessionStore } from '../session/store.js';
import type { Session } from '../session/types.js';
import { buildUpstreamHeaders, identityValues, type IdentityValues } from './headers.js';
import type { ForwardTarget, Forwarder } from './forward.js';
import type { Runtime } from './runtime.js';

export interface PipelineDeps {
  /** the runtime in force now; read once per request so a reload never splits one */
  runtime: () => Runtime;
  store: SessionStore;
  sessionCookies: SessionCookies;
  resolveSession: SessionResolver;
  forwarder: Forwarder;
  clock: Clock;
  idleTimeoutMs: number;
  loginUrl: string;
  /** the signed identity assertion for a session (or bearer token) and a route's audience (a string when cached) */
  mintAssertion?: (subject: AssertionSubject, audience: string) => string | Promise<string>;
  /** checks an `Authorization: Bearer` access token on routes with bearer_tokens */
  verifyBearer?: (token: string) => Promise<BearerOutcome>;
  /** sends a browser to the IdP (sets the login transaction cookie) */
  startLogin(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, returnTo: URL): Promise<void>;
}

/**
 * Forward-auth's answer for a request another proxy will forward: allowed (with the identity
 * headers the upstream is to receive, none on a public route), or sign-in needed (the 401 to
 * answer API clients with). A denial is thrown as 403, like on the proxy path.
 */
export type Judgement =
  | { kind: 'allow'; identity: Record<string, string>; setCookie?: string }
  | { kind: 'sign-in'; error: GatewayError };

/** What authentication found for a request; the pipeline's one decision point. */
type Access =
  | { kind: 'public' }
  | { kind: 'session'; session: Session; setCookie?: string }
  | { kind: 'bearer'; principal: BearerPrincipal }
  | { kind: 'none'; hadCookie: boolean };

/**
 * route → session → policy → forward. The hot path does no I/O besides the upstream call
 * when the session is in this replica's mirror. Errors are thrown; the server renders them.
 */
export function createPipeline(deps: PipelineDeps) {
  const { store, sessionCookies, clock } = deps;
  const isGatewayCookie = createCookieNamespace(sessionCookies.name);
  // A session's user is one frozen object until the session is written again (both stores hand
  // out frozen views): its identity headers are encoded once, not per request. Keyed weakly, so
  // an entry goes with the session's object; an unfrozen user (a bearer principal) is encoded each time.
  const identities = new WeakMap<AssertionSubject['user'], IdentityValues>();
  function identityOf(user: AssertionSubject['user']): IdentityValues {
    if (!Object.isFrozen(user) || !Object.isFrozen(user.groups)) return identityValues(user);
    let values = identities.get(user);
    if (values === undefined) {
      values = identityValues(user);
      identities.set(user, values);
    }
    return values;
  }

  function matchRoute({ routes }: Runtime, ctx: RequestContext): CompiledRoute {
    const route = routes.match(ctx.scheme, ctx.host, ctx.path);
    if (!route) throw new GatewayError('NOT_FOUND', 'No application is configured at this address.');
    ctx.routeId = route.id;
    if (routes.caseConfusable(route, ctx.path)) throw caseMismatch();
    return route;
  }

  async function authenticate(req: IncomingMessage, ctx: RequestContext, route: CompiledRoute): Promise<Access> {
    if (route.public) return { kind: 'public' };
    if (route.bearerTokens) {
      // a bearer token wins over a session cookie: the client chose to speak with the token
      const token = bearerToken(req);
      if (token !== undefined) return authenticateBearer(token);
    }
    const resolved = await deps.resolveSession(req);
    if (!resolved.session) {
      if ('conflict' in resolved && resolved.conflict) throw conflictingCookies(req, ctx);
      return { kind: 'none', hadCookie: resolved.hadCookie };
    }
    const { session, handle, issuedAt, id } = resolved;
    const now = clock.now();
    if (shouldTouch(session, now, deps.idleTimeoutMs)) {
      // fire and forget: a failed touch only shortens the idle window
      store.touch(handle, now).catch(() => undefined);
    }
    const renewal = cookieRenewal({ issuedAt, session, now, idleTimeoutMs: deps.idleTimeoutMs });
    const setCookie = renewal.renew ? sessionCookies.issue(id, now, renewal.maxAgeSeconds, ctx.host) : undefined;
    return { kind: 'session', session, setCookie };
  }

  async function authenticateBearer(token: string): Promise<Access> {
    if (!deps.verifyBearer) throw invalidToken('bearer tokens are not checked here');
    const outcome = await deps.verifyBearer(token);
    if (!outcome.ok) throw invalidToken(outcome.description);
    return { kind: 'bearer', principal: outcome.principal };
  }

  /**
   * The route's policy on `subject` for `method` and `path`, the path the upstream receives (see
   * upstreamPath): the one path judged and forwarded. A path that differs from a protected one
   * only in letter case is refused; config validation guarantees the policy exists, and a missing
   * one denies rather than allows. Pure: new requests and open connections (after a reload) alike.
   */
  function decide(runtime: Runtime, route: CompiledRoute, subject: Subject, method: string, path: string): Decision | 'case-mismatch' {
    const policy = route.policy === undefined ? undefined : runtime.policies.get(route.policy);
    if (!policy) return { allow: false, reasons: ['route has no policy'] };
    if (policy.caseConfusable(path)) return 'case-mismatch';
    return policy.evaluate(subject, { method, path });
  }

  function authorize(runtime: Runtime, route: CompiledRoute, subject: Subject, bearer: boolean, req: IncomingMessage, ctx: RequestContext, path: string): void {
    const decision = decide(runtime, route, subject, ctx.method ?? req.method ?? 'GET', path);
    if (decision === 'case-mismatch') throw caseMismatch();
    if (!decision.allow) {
      ctx.log.info({ route: route.id, user: subject.sub, bearer, reasons: decision.reasons }, 'access denied');
      throw new GatewayError('FORBIDDEN', 'You do not have access to this application.', {
        // RFC 6750 §3.1: a valid token without the rights the resource needs
        ...(bearer ? { headers: { 'WWW-Authenticate': bearerChallenge({ code: 'insufficient_scope', description: 'access denied by policy' }) } } : {}),
      });
    }
  }

  /**
   * Signing in again would not help while a path-scoped cookie keeps winning, so the answer is a
   * 400 that deletes every copy this path can carry; the next request starts clean.
   */
  function conflictingCookies(req: IncomingMessage, ctx: RequestContext): GatewayError {
    const rawPath = (req.url ?? '/').split('?')[0]!;
    return new GatewayError('BAD_REQUEST', 'Your browser sent more than one session cookie for this site. They have been cleared: reload the page to sign in again.', {
      headers: { 'Set-Cookie': sessionCookies.clearAround(rawPath, ctx.host) },
    });
  }

  function unauthenticated(access: { hadCookie: boolean }, ctx: RequestContext, route: CompiledRoute): GatewayError {
    // a dead or tampered cookie is deleted: a delete is one of the few reasons to Set-Cookie
    const error = signInRequired(deps.loginUrl, access.hadCookie ? { 'Set-Cookie': sessionCookies.clear(ctx.host) } : {});
    if (!route.bearerTokens) return error;
    // RFC 6750 §3: no token at all gets the bare challenge, next to the cookie sign-in one
    return signInRequired(deps.loginUrl, { ...error.headers, 'WWW-Authenticate': [error.headers['WWW-Authenticate'] as string, bearerChallenge()] });
  }

  /**
   * The path the upstream receives, without the query: route.to's path, then the normalized
   * request path (less the route prefix with strip_prefix). Policies judge exactly this path, so
   * a path rule means the same thing whether or not the route strips its prefix.
   */
  function upstreamPath(route: CompiledRoute, ctx: RequestContext): string {
    let path = ctx.path;
    if (route.stripPrefix && route.pathPrefix) path = path.slice(route.pathPrefix.length) || '/';
    if (!path.startsWith('/')) path = `/${path}`;
    return route.basePath ? `${route.basePath}${path}` : path;
  }

  /** Normally a cached string (no signing, no await); public routes carry no identity at all. */
  function assertionFor(route: CompiledRoute, subject?: AssertionSubject): string | Promise<string> | undefined {
    if (!subject || !deps.mintAssertion) return undefined;
    return deps.mintAssertion(subject, route.audience);
  }

  function headersFor(req: IncomingMessage, ctx: RequestContext, route: CompiledRoute, subject?: AssertionSubject, assertion?: string) {
    return buildUpstreamHeaders(req, {
      cookieName: sessionCookies.name,
      isGatewayCookie,
      identity: subject ? identityOf(subject.user) : undefined,
      assertion,
      dropAuthorization: subject?.bearer !== undefined,
      clientIp: ctx.clientIp,
      proto: ctx.scheme,
      host: ctx.host,
      preserveHost: route.preserveHost,
      upstreamHost: route.to.host,
      trustForwarded: ctx.trustForwarded,
      requestId: ctx.id,
    });
  }

  /**
   * What follows authentication, the same for requests and upgrades: the policy judges the path
   * the upstream will receive, then the assertion and the cleaned headers make the target.
   */
  async function admit(
    req: IncomingMessage,
    ctx: RequestContext,
    runtime: Runtime,
    route: CompiledRoute,
    access: Exclude<Access, { kind: 'none' }>,
  ): Promise<ForwardTarget> {
    const who = access.kind === 'session' ? access.session : access.kind === 'bearer' ? bearerSubject(access.principal) : undefined;
    const path = upstreamPath(route, ctx);
    if (access.kind === 'session') {
      ctx.user = access.session.user.sub;
      authorize(runtime, route, toSubject(access.session), false, req, ctx, path);
    } else if (access.kind === 'bearer') {
      ctx.user = access.principal.sub;
      authorize(runtime, route, access.principal, true, req, ctx, path);
    }
    const minted = assertionFor(route, who);
    const assertion = typeof minted === 'object' ? await minted : minted;
    // one shape for every target (session may be undefined): the forwarder's hot path stays monomorphic
    return { route, ctx, path: `${path}${ctx.search}`, headers: headersFor(req, ctx, route, who, assertion), session: access.kind === 'session' ? access.session : undefined };
  }

  /**
   * After a reload: would the new runtime still admit this open connection, as its session is
   * now? The same route match and policy as a new request gets; a route gone, turned off for
   * WebSockets or moved elsewhere denies. Pure: nothing is logged or thrown.
   */
  function stillAllowed(runtime: Runtime, opened: { target: ForwardTarget; method: string; websocket: boolean }, session: Session): boolean {
    const ctx = opened.target.ctx;
    if (!ctx) return true;
    const route = runtime.routes.match(ctx.scheme, ctx.host, ctx.path);
    if (!route || route.to.origin !== opened.target.route.to.origin) return false;
    if (opened.websocket && !route.websockets) return false;
    if (route.public) return true;
    const decision = decide(runtime, route, toSubject(session), opened.method, upstreamPath(route, ctx));
    return decision !== 'case-mismatch' && decision.allow;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const runtime = deps.runtime();
    const route = matchRoute(runtime, ctx);
    const access = await authenticate(req, ctx, route);
    if (access.kind === 'none') {
      const method = req.method ?? 'GET';
      if (wantsHtml(req) && (method === 'GET' || method === 'HEAD')) {
        const returnTo = new URL(`${ctx.scheme}://${ctx.host}${ctx.rawPath}${ctx.search}`);
        return deps.startLogin(req, res, ctx, returnTo);
      }
      throw unauthenticated(access, ctx, route);
    }
    const target = await admit(req, ctx, runtime, route, access);
    if (access.kind === 'session' && access.setCookie) res.appendHeader('Set-Cookie', access.setCookie);
    await deps.forwarder.forward(req, res, target);
  }

  /**
   * Forward-auth: `ctx` describes the original request (another proxy forwards it). The same
   * route match, session, policy and assertion as `handle`; only the identity headers are kept.
   */
  async function judge(req: IncomingMessage, ctx: RequestContext): Promise<Judgement> {
    const runtime = deps.runtime();
    const route = matchRoute(runtime, ctx);
    const access = await authenticate(req, ctx, route);
    if (access.kind === 'none') return { kind: 'sign-in', error: unauthenticated(access, ctx, route) };
    const target = await admit(req, ctx, runtime, route, access);
    const identity: Record<string, string> = {};
    for (const name of IDENTITY_HEADERS) {
      const value = target.headers[name];
      if (typeof value === 'string') identity[name] = value;
    }
    return { kind: 'allow', identity, setCookie: access.kind === 'session' ? access.setCookie : undefined };
  }

  /** WebSocket upgrades: the same authentication and policy, then bytes pass through. */
  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: RequestContext): Promise<void> {
    const runtime = deps.runtime();
    const route = matchRoute(runtime, ctx);
    if (!route.websockets) throw new GatewayError('BAD_REQUEST', 'WebSockets are not enabled on this route.');
    const access = await authenticate(req, ctx, route);
    if (access.kind === 'none') throw unauthenticated(access, ctx, route);
    deps.forwarder.upgrade(req, socket, head, await admit(req, ctx, runtime, route, access));
  }

  return { handle, upgrade, judge, stillAllowed };
}

export type Pipeline = ReturnType<typeof createPipeline>;

/** The headers that carry the gateway's identity statement to an upstream (CONTRACT). */
export const IDENTITY_HEADERS = ['x-portcullis-user', 'x-portcullis-email', 'x-portcullis-groups', 'x-portcullis-jwt-assertion'] as const;

function caseMismatch(): GatewayError {
  return new GatewayError('BAD_PATH', 'The request path differs only in letter case from a protected path; use its exact spelling.');
}

/** The token after `Bearer ` (RFC 6750 §2.1; the scheme is case-insensitive), or undefined for no or another scheme. */
function bearerToken(req: IncomingMessage): string | undefined {
  const value = req.headers.authorization;
  if (typeof value !== 'string' || value.length < 6 || value.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  if (value.length > 6 && value[6] !== ' ') return undefined;
  return value.slice(7).trim();
}

/** A bearer principal as the assertion minter sees it: the token digest keys its cache. */
function bearerSubject(principal: BearerPrincipal): AssertionSubject {
  return { handle: `bearer:${principal.tokenId}`, user: principal, bearer: principal.clientId === undefined ? {} : { clientId: principal.clientId } };
}

export function toSubject(session: Session): Subject {
  return { sub: session.user.sub, email: session.user.email, groups: session.user.groups, claims: session.user.claims };
}
