import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import type { Config } from './config/index.js';
import { createConfigWatcher, type ConfigWatcher } from './config/watch.js';
import type { RequestContext } from './http/context.js';
import { securityHeaders } from './http/respond.js';
import { systemClock, type Clock } from './lib/clock.js';
import { randomToken } from './lib/random.js';
import { createAssertionMinter } from './keys/assertion.js';
import { createKeyManager } from './keys/key-manager.js';
import { createMemoryKeyStore } from './keys/memory-key-store.js';
import { createWellKnown } from './keys/well-known.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, recordConfigLoad, type Metrics } from './observability/metrics.js';
import { createAccessTokenVerifier } from './oidc/access-tokens.js';
import { createOidcClient, type OidcClientDeps } from './oidc/client.js';
import { createAuthEndpoints } from './oidc/endpoints.js';
import { createConnectionRegistry } from './proxy/connections.js';
import { createForwarder } from './proxy/forward.js';
import { createPipeline } from './proxy/pipeline.js';
import { buildRuntime, type Runtime } from './proxy/runtime.js';
import { createReloader, type ReloadOutcome } from './reload.js';
import { createQueueScheduler } from './refresh/queue-scheduler.js';
import { createRefreshScheduler } from './refresh/scheduler.js';
import { createAdminServer } from './server/admin-server.js';
import { createPortal } from './server/portal.js';
import { createForwardAuth } from './server/forward-auth.js';
import { createCookieScope } from './session/cookie-scope.js';
import { createProxyServer } from './server/proxy-server.js';
import { createAddressMatcher } from './lib/address-ranges.js';
import { createBufferReclaimer } from './lib/buffer-reclaimer.js';
import { createEndWitness, createSessionAudit, withAudit } from './session/audit.js';
import { createSessionStore } from './session/create-store.js';
import type { SessionStore } from './session/store.js';
import { createRedisKeyStore } from './keys/redis-key-store.js';
import { createSessionResolver } from './session/resolver.js';
import { createSessionCookies } from './session/session-cookies.js';
import { packageVersion } from './version.js';

export interface GatewayOptions {
  logger?: Logger;
  clock?: Clock;
  /** used for IdP calls (tests inject one; production uses globalThis.fetch) */
  fetch?: typeof fetch;
  replicaId?: string;
  /** IdP discovery and request tuning (tests shorten the retry backoff) */
  oidc?: OidcClientDeps['options'];
  /** where reload() reads the config again; main.ts passes the file and its env. Without it reload() is refused. */
  reloadSource?: {
    configPath: string;
    load: () => Promise<Config>;
    /** also reload when the config file or policies change on disk (ConfigMap swaps included) */
    watch?: boolean;
    debounceMs?: number;
  };
  /** LOG_LEVEL pins the level: a reload then leaves log.level alone */
  logLevelPinned?: boolean;
}

export interface Gateway {
  /** the config in force (after a reload: its routes, policies and log level; the rest as started) */
  readonly config: Config;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** the session store (benches read sessions through it, as requests do) */
  readonly store: SessionStore;
  /** binds both ports; resolves with the bound addresses */
  listen(): Promise<{ proxy: AddressInfo; admin: AddressInfo }>;
  /** true once config, IdP discovery and the store have all been ready (never flips back) */
  isReady(): boolean;
  /**
   * Reads the config again, builds a new runtime completely and swaps it in; an invalid config
   * keeps the running one. Never rejects: the outcome says what happened (and the log says it).
   */
  reload(trigger?: string): Promise<ReloadOutcome>;
  /** stops accepting, drains in-flight requests (bounded), closes every part in reverse order */
  close(): Promise<void>;
}

export function parseListen(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(at + 1)) };
}

/** The composition root: every part is built here from the config and passed down. */
export function createGateway(config: Config, options: GatewayOptions = {}): Gateway {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const metrics = createMetrics({ version: packageVersion() });
  // the config this gateway runs was loaded and validated before it was built
  recordConfigLoad(metrics, true, clock.now());
  const replicaId = options.replicaId ?? `${hostname()}-${process.pid}-${randomToken(6)}`;
  const publicUrl = new URL(config.server.public_url);
  const publicOrigin = publicUrl.origin;
  const hsts = publicUrl.protocol === 'https:';

  // the one reference a reload swaps; every request reads it once (DESIGN: Runtime)
  let current: { config: Config; runtime: Runtime } = { config, runtime: buildRuntime(config) };
  const runtime = () => current.runtime;
  const sessionCookies = createSessionCookies({
    name: config.cookie.name,
    secret: config.cookie.secret,
    domain: config.cookie.domain,
    secure: config.cookie.secure === 'auto' ? hsts : config.cookie.secure,
    sameSite: config.cookie.same_site,
    publicHost: publicUrl.hostname,
    clock,
  });
  // every start and end made through this store is one audit line, written here (DESIGN: one owner)
  const audit = createSessionAudit({ logger, replica: replicaId, clock });
  const store = withAudit(createSessionStore(config, { clock, logger: logger.child({ part: 'store' }), metrics }), audit);
  // WebSockets and streams of a session, so they end with it on every replica (the store's events say when)
  const connections = createConnectionRegistry({ store, clock, metrics, logger, idleTimeoutMs: config.session.idle_timeout });
  const unsubscribe = [store.subscribe(connections.onStoreEvent), store.subscribe(createEndWitness({ store, audit, metrics, logger }))];
  const keysLogger = logger.child({ part: 'keys' });
  // signing keys live where sessions do: in this process, or in Redis shared by every replica
  const keyStore =
    config.session.store === 'redis'
      ? createRedisKeyStore({
          url: config.session.redis.url,
          keyPrefix: config.session.redis.key_prefix,
          keyMaterial: config.session.encryption_key ?? config.cookie.secret,
          logger: keysLogger,
        })
      : createMemoryKeyStore();
  const keyManager = createKeyManager({
    store: keyStore,
    clock,
    logger: keysLogger,
    metrics,
    publishAheadMs: config.signing.publish_ahead,
    rotateEveryMs: config.signing.rotate_every,
    assertionTtlMs: config.signing.assertion_ttl,
  });
  const minter = createAssertionMinter({ keyManager, issuer: config.server.public_url, ttlMs: config.signing.assertion_ttl, clock });
  const wellKnown = createWellKnown({ keyManager, issuer: config.server.public_url, publicOrigin });
  const resolveSession = createSessionResolver({ store, sessionCookies, clock, idleTimeoutMs: config.session.idle_timeout });
  const oidc = createOidcClient({ config, logger, clock, fetch: options.fetch, options: options.oidc });
  const auth = createAuthEndpoints({ config, oidc, store, sessionCookies, resolveSession, routes: () => current.runtime.routes, logger, metrics, clock });
  const schedulerDeps = {
    store,
    refresher: oidc,
    clock,
    logger: logger.child({ part: 'refresh' }),
    metrics,
    replicaId,
    refreshAheadMs: config.session.refresh_ahead,
    maxBackoffMs: config.session.refresh_max_backoff,
  };
  // a bounded mirror does not see every session: refreshes come from the shared queue in Redis
  const scheduler =
    config.session.store === 'redis' && config.session.redis.mirror_max_sessions !== undefined && store.refreshQueue
      ? createQueueScheduler({ ...schedulerDeps, queue: store.refreshQueue })
      : createRefreshScheduler(schedulerDeps);
  // built always (it does nothing until a route with bearer_tokens sees a token): a reload may add one
  const accessTokens = createAccessTokenVerifier({
    idp: oidc,
    audiences: () => current.config.idp.access_token_audiences,
    groupsClaim: config.idp.groups_claim,
    clock,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const forwarder = createForwarder({ logger, metrics, reservedCookieName: config.cookie.name, connections, reclaimer: createBufferReclaimer() });
  const pipeline = createPipeline({
    runtime,
    store,
    sessionCookies,
    resolveSession,
    forwarder,
    clock,
    idleTimeoutMs: config.session.idle_timeout,
    loginUrl: `${publicOrigin}/.portcullis/login`,
    mintAssertion: minter.mint,
    verifyBearer: accessTokens.verify,
    startLogin(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, returnTo: URL) {
      securityHeaders(res, { hsts, noStore: true });
      return auth.startLogin(req, res, ctx, returnTo);
    },
  });
  const cookieScope = createCookieScope({ domain: config.cookie.domain, publicHost: publicUrl.hostname });
  const forwardAuth = createForwardAuth({
    pipeline,
    loginUrl: `${publicOrigin}/.portcullis/login`,
    cookieCovers: cookieScope.covers,
  });
  const portal = createPortal({ auth, store, resolveSession, sessionCookies, metrics, publicOrigin, runtime, clock, forwardAuth });

  let everReady = false;
  const isReady = () => {
    if (!everReady && oidc.isReady() && store.status().up && keyManager.ready()) {
      everReady = true;
      logger.info('gateway ready');
    }
    return everReady;
  };
  const readiness = {
    everReady: isReady,
    details: () => {
      const status = store.status();
      return {
        idp: oidc.isReady() ? 'discovered' : 'pending',
        store: status.up ? 'up' : 'degraded',
        keys: keyManager.ready() ? 'loaded' : 'pending',
        ...(status.detail ? { store_detail: status.detail } : {}),
        ...(status.queued ? { store_queued_writes: status.queued } : {}),
      };
    },
  };
  const proxyServer = createProxyServer({
    pipeline,
    portal,
    wellKnown,
    logger,
    metrics,
    trustProxy: createAddressMatcher(config.server.trust_forwarded_headers),
    hsts,
    maxHeaderBytes: config.server.max_header_bytes,
  });
  const adminServer = createAdminServer({
    metrics,
    readiness,
    logger,
    beforeScrape: () => {
      metrics.sessionsActive.set(store.size());
      metrics.storeUp.set(store.status().up ? 1 : 0);
    },
  });

  const reloadSource = options.reloadSource;
  const reloader = createReloader({
    load: reloadSource?.load ?? (() => Promise.reject(new Error('this gateway has no config file to reload from'))),
    running: () => current.config,
    apply(nextConfig, nextRuntime) {
      current = { config: nextConfig, runtime: nextRuntime };
      if (!options.logLevelPinned) logger.level = nextConfig.log.level;
      // what is already open was judged by the old policy: judge it again (a gone session is the sweep's)
      connections.rejudge((open) => {
        const session = store.peek(open.handle);
        return !session || pipeline.stillAllowed(nextRuntime, { target: open.target, method: open.method, websocket: open.kind === 'websocket' }, session);
      });
    },
    logLevelPinned: options.logLevelPinned ?? false,
    logger,
    metrics,
    clock,
  });
  let watcher: ConfigWatcher | undefined;
  let closing = false;

  let started = false;
  async function listen() {
    started = true;
    // watching starts before the ports bind, so a change made once the gateway answers is seen
    if (reloadSource?.watch) {
      watcher = await createConfigWatcher({
        configPath: reloadSource.configPath,
        policiesDir: () => resolve(current.config.baseDir, current.config.policies_dir),
        onChange: () => void reloader('file change'),
        onError: (error) => logger.warn({ err: error, part: 'reload' }, 'config watch failed: reload with SIGHUP'),
        ...(reloadSource.debounceMs !== undefined ? { debounceMs: reloadSource.debounceMs } : {}),
      });
      if (closing) watcher.close();
    }
    // the store connects in the background: held sessions and /healthz do not wait for it
    store.start().catch((error: unknown) => {
      // closing (e.g. a port that could not be bound) ends the start too: that is no failure of the store
      if (!closing) logger.error({ err: error }, 'session store failed to start');
    });
    scheduler.start();
    keyManager.start().catch((error: unknown) => logger.error({ err: error }, 'signing keys failed to start'));
    let proxy: AddressInfo;
    let admin: AddressInfo;
    try {
      proxy = await bind(proxyServer, config.server.listen, 'server.listen');
      admin = await bind(adminServer, config.server.admin_listen, 'server.admin_listen');
    } catch (error) {
      // a port in use must end the process with that message, not leave the store and timers running
      await close().catch((closeError: unknown) => logger.warn({ err: closeError }, 'stopping after a failed start failed'));
      throw error;
    }
    logger.info({ proxy: `${proxy.address}:${proxy.port}`, admin: `${admin.address}:${admin.port}`, replicaId }, 'listening');
    return { proxy, admin };
  }

  async function close() {
    closing = true;
    watcher?.close();
    const drainMs = config.server.shutdown_timeout;
    // WebSockets never drain by themselves: tell them now, so clients reconnect elsewhere
    forwarder.goAway(drainMs);
    await Promise.all([stop(proxyServer, drainMs), stop(adminServer, drainMs)]);
    if (started) await scheduler.close();
    await keyManager.close();
    await keyStore.close();
    await forwarder.close();
    for (const stop of unsubscribe) stop();
    connections.close();
    await oidc.close();
    await store.close();
  }

  return {
    get config() {
      return current.config;
    },
    metrics,
    logger,
    store,
    listen,
    isReady,
    reload: (trigger = 'request') => reloader(trigger),
    close,
  };
}

function bind(server: Server, address: string, key: string): Promise<AddressInfo> {
  const { host, port } = parseListen(address);
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => {
      const why = error.code === 'EADDRINUSE' ? 'is already in use' : error.code === 'EACCES' ? 'needs privileges this process lacks' : `cannot be bound (${error.code ?? error.message})`;
      reject(new Error(`${key}: ${address} ${why}`, { cause: error }));
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Stop accepting, let in-flight requests finish, then cut what is left after `drainMs`. */
function stop(server: Server, drainMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), drainMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
