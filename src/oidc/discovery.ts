import * as client from 'openid-client';
import type { Logger } from '../observability/logger.js';

/**
 * Discovery that never gives up: the gateway starts (and serves /healthz and held sessions)
 * while the IdP is down, and retries with capped exponential backoff until the IdP answers.
 * Once discovered it stays discovered; later IdP outages show up per request instead.
 */
export interface DiscoveryOptions {
  issuer: URL;
  clientId: string;
  clientSecret?: string;
  allowInsecureHttp: boolean;
  logger: Logger;
  fetch?: typeof fetch;
  /** per-request timeout for every IdP call made with the resulting configuration */
  requestTimeoutSeconds: number;
  retryInitialMs: number;
  retryMaxMs: number;
  random?: () => number;
}

export interface Discovery {
  current(): client.Configuration | undefined;
  ready: Promise<client.Configuration>;
  /**
   * The configuration, waiting up to `maxWaitMs` for an attempt that is under way (a login
   * right after start-up should not fail just because discovery is a few ms from done); no wait
   * while sleeping between retries, so an IdP outage answers at once.
   */
  settle(maxWaitMs: number): Promise<client.Configuration | undefined>;
  close(): void;
}

/**
 * client_secret_basic unless the IdP advertises only client_secret_post. Chosen per request from
 * the discovered metadata; RFC 8414 §2 makes basic the default when the list is absent.
 */
function secretAuth(secret: string): client.ClientAuth {
  const basic = client.ClientSecretBasic(secret);
  const post = client.ClientSecretPost(secret);
  return (as, metadata, body, headers) => {
    const methods = as.token_endpoint_auth_methods_supported;
    const postOnly = Array.isArray(methods) && methods.includes('client_secret_post') && !methods.includes('client_secret_basic');
    (postOnly ? post : basic)(as, metadata, body, headers);
  };
}

export function startDiscovery(options: DiscoveryOptions): Discovery {
  const log = options.logger.child({ component: 'oidc-discovery' });
  const random = options.random ?? Math.random;
  let configuration: client.Configuration | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let attempt = 0;
  let inFlight: Promise<void> | undefined;
  let resolveReady!: (config: client.Configuration) => void;
  let rejectReady!: (error: Error) => void;
  const ready = new Promise<client.Configuration>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // nobody may be waiting; a close before discovery must not become an unhandled rejection
  ready.catch(() => undefined);

  if (options.allowInsecureHttp) {
    log.warn({ issuer: options.issuer.href }, 'idp.allow_insecure_http is on: IdP calls may use plain HTTP (local/test IdPs only)');
  }

  const auth = options.clientSecret === undefined ? client.None() : secretAuth(options.clientSecret);
  const metadata: Partial<client.ClientMetadata> =
    options.clientSecret === undefined ? {} : { client_secret: options.clientSecret };

  async function tryOnce(): Promise<void> {
    attempt += 1;
    try {
      const config = await client.discovery(options.issuer, options.clientId, metadata, auth, {
        execute: options.allowInsecureHttp ? [client.allowInsecureRequests] : [],
        timeout: options.requestTimeoutSeconds,
        ...(options.fetch ? { [client.customFetch]: options.fetch as client.CustomFetch } : {}),
      });
      if (closed) return;
      configuration = config;
      const server = config.serverMetadata();
      log.info(
        {
          issuer: server.issuer,
          attempts: attempt,
          end_session: Boolean(server.end_session_endpoint),
          userinfo: Boolean(server.userinfo_endpoint),
        },
        'IdP discovered',
      );
      resolveReady(config);
    } catch (error) {
      if (closed) return;
      const delay = Math.round(Math.min(options.retryMaxMs, options.retryInitialMs * 2 ** Math.min(attempt - 1, 30)) * (0.75 + random() / 2));
      log.warn(
        { issuer: options.issuer.href, attempt, retryInMs: delay, reason: reason(error) },
        'IdP discovery failed; retrying',
      );
      timer = setTimeout(run, delay);
      timer.unref();
    }
  }

  function run(): void {
    inFlight = tryOnce().finally(() => {
      inFlight = undefined;
    });
  }

  run();

  return {
    current: () => configuration,
    ready,
    async settle(maxWaitMs) {
      if (configuration || !inFlight) return configuration;
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([inFlight, new Promise<void>((resolve) => (timeout = setTimeout(resolve, maxWaitMs)))]);
      clearTimeout(timeout);
      return configuration;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (!configuration) rejectReady(new Error('OIDC client closed before the IdP was discovered'));
    },
  };
}

/** A short, secret-free reason for logs. */
function reason(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const code = (error as { code?: unknown }).code;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const causeCode = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
  return `${error.message}${typeof code === 'string' ? ` [${code}]` : ''}${causeCode}`;
}
