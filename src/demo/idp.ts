import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { defaultGroups, demoClaims, loadExistingGrant, logoutSource } from './idp-accounts.js';
import { createAdapterStore, type StoredEntry } from './idp-adapter.js';

/**
 * A real OpenID Provider (oidc-provider) in-process, for the demo and for tests. Any username
 * signs in (devInteractions); consent is granted automatically for the registered clients.
 * Never a production IdP.
 */
export interface DemoIdpClient {
  client_id: string;
  /** omit for a public client (token_endpoint_auth_method none) */
  client_secret?: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  backchannel_logout_uri?: string;
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'none';
  /** default authorization_code + refresh_token; `client_credentials` for a machine client */
  grant_types?: string[];
  /** scopes the client may ask for (client_credentials without a resource indicator) */
  scope?: string;
}

/** An API the IdP issues JWT access tokens for (RFC 8707 resource indicator → `aud`; RFC 9068 format). */
export interface DemoApiResource {
  /** the resource indicator, an absolute URI; also the tokens' `aud` */
  resource: string;
  /** space-separated scopes the API knows */
  scope: string;
  /** access token lifetime for this API; default the IdP's */
  ttlSeconds?: number;
}

export interface DemoIdpOptions {
  /** default: a free port */
  port?: number;
  /** interface to listen on; default 127.0.0.1 (and ::1 when available) */
  host?: string;
  /** host name in the issuer URL; default "localhost" (kept apart from a gateway on 127.0.0.1) */
  issuerHost?: string;
  clients: DemoIdpClient[];
  /** default 3600 */
  accessTokenTtlSeconds?: number;
  /** true: every refresh rotates the refresh token, and reusing an old one revokes the grant */
  rotateRefreshToken?: boolean;
  /**
   * Tests only: let back-channel logout tokens be POSTed to loopback addresses, which
   * oidc-provider refuses by default (an SSRF guard). Never in a real deployment.
   */
  backchannelLoopbackAllowed?: boolean;
  /** default true: no consent screen for registered clients */
  autoConsent?: boolean;
  /** groups of a user; default ["staff"], plus "admins" for "admin" */
  groupsFor?: (username: string) => string[];
  /** APIs with JWT access tokens; tokens without a resource indicator stay opaque (introspection) */
  apiResources?: DemoApiResource[];
}

export interface DemoIdp {
  /** http://localhost:PORT */
  issuer: string;
  port: number;
  provider: Provider;
  /** Deletes every grant of a user and the tokens issued under them (refresh then fails). */
  revokeGrants(accountId: string): number;
  /** Refresh tokens the IdP holds, optionally for one user. */
  refreshTokens(accountId?: string): StoredEntry[];
  /** Adapter entries of any model ('Session', 'Grant', 'AccessToken', …). */
  entries(model: string): StoredEntry[];
  /** How many times a rotated (already used) refresh token was presented again. */
  refreshTokenReuseCount(): number;
  /**
   * What an IdP-side sign-out does: sends a back-channel logout token to every client the
   * user signed in to (with the IdP session's `sid`), optionally only for one `sid`.
   * Resolves to the number sent.
   */
  backchannelLogout(accountId: string, options?: { sid?: string }): Promise<number>;
  close(): Promise<void>;
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export async function startDemoIdp(options: DemoIdpOptions): Promise<DemoIdp> {
  const host = options.host ?? '127.0.0.1';
  const groupsFor = options.groupsFor ?? defaultGroups;
  const store = createAdapterStore();
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const makeServer = (): Server => {
    const server = createServer((req, res) => {
      if (handler) handler(req, res);
      else res.writeHead(503).end();
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    servers.push(server);
    return server;
  };

  // the issuer needs the port, so listen first and attach the provider after
  const port = await listen(makeServer(), options.port ?? 0, host);
  if (host === '127.0.0.1') {
    // "localhost" may resolve to ::1 first; answer there too when the system has IPv6
    await listen(makeServer(), port, '::1').catch(() => servers.pop());
  }
  const issuer = `http://${options.issuerHost ?? 'localhost'}:${port}`;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };

  const autoConsent = options.autoConsent !== false;
  const configuration: Record<string, unknown> = {
    adapter: store.factory,
    clients: options.clients.map((client) => ({
      client_id: client.client_id,
      ...(client.client_secret === undefined ? {} : { client_secret: client.client_secret }),
      redirect_uris: client.redirect_uris,
      post_logout_redirect_uris: client.post_logout_redirect_uris ?? [],
      grant_types: client.grant_types ?? ['authorization_code', 'refresh_token'],
      response_types: client.grant_types && !client.grant_types.includes('authorization_code') ? [] : ['code'],
      ...(client.scope === undefined ? {} : { scope: client.scope }),
      token_endpoint_auth_method:
        client.token_endpoint_auth_method ?? (client.client_secret === undefined ? 'none' : 'client_secret_basic'),
      ...(client.backchannel_logout_uri
        ? { backchannel_logout_uri: client.backchannel_logout_uri, backchannel_logout_session_required: true }
        : {}),
    })),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'groups'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    features: {
      devInteractions: { enabled: true },
      backchannelLogout: { enabled: true },
      revocation: {
        enabled: true,
        // a client may revoke only its own tokens
        allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) =>
          token.clientId === client.clientId,
      },
      rpInitiatedLogout: { enabled: true, logoutSource },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // only a confidential client (the gateway) may ask about tokens
        allowedPolicy: (_ctx: unknown, client: { clientAuthMethod: string }) => client.clientAuthMethod !== 'none',
      },
      resourceIndicators: {
        enabled: true,
        // no resource indicator: an opaque token (the userinfo one at login; introspection for APIs)
        defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string) => oneOf,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          const api = options.apiResources?.find((candidate) => candidate.resource === resource);
          if (!api) throw new errors.InvalidTarget();
          return {
            scope: api.scope,
            audience: api.resource,
            accessTokenFormat: 'jwt',
            ...(api.ttlSeconds === undefined ? {} : { accessTokenTTL: api.ttlSeconds }),
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    findAccount: (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: () => demoClaims(sub, groupsFor),
    }),
    // always issue a refresh token to clients allowed the grant (not only with offline_access)
    issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: options.accessTokenTtlSeconds ?? 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      Interaction: 3600,
    },
    ...(options.rotateRefreshToken === undefined ? {} : { rotateRefreshToken: options.rotateRefreshToken }),
    ...(autoConsent ? { loadExistingGrant } : {}),
    ...(options.backchannelLoopbackAllowed
      ? {
          // drops oidc-provider's SSRF-guarding dispatcher so logout tokens reach 127.0.0.1
          fetch: (url: string, init: RequestInit & { dispatcher?: unknown }) => {
            const { dispatcher: _dispatcher, ...rest } = init;
            return globalThis.fetch(url, rest);
          },
        }
      : {}),
  };

  const provider = new Provider(issuer, configuration);
  let reuseCount = 0;
  provider.on('grant.error', (_ctx: unknown, error: { error_detail?: string }) => {
    if (error?.error_detail === 'refresh token already used') reuseCount += 1;
  });
  // oidc-provider logs server errors through `debug`; nothing to do here by default
  provider.on('server_error', () => undefined);
  handler = provider.callback();

  function revokeGrants(accountId: string): number {
    let count = 0;
    for (const entry of store.entries('Grant')) {
      if (entry.payload.accountId === accountId && store.deleteGrant(entry.id)) count += 1;
    }
    return count;
  }

  async function backchannelLogout(accountId: string, options: { sid?: string } = {}): Promise<number> {
    let sent = 0;
    for (const entry of store.entries('Session')) {
      if (entry.payload.accountId !== accountId) continue;
      const authorizations = (entry.payload.authorizations ?? {}) as Record<string, { sid?: string }>;
      for (const [clientId, authorization] of Object.entries(authorizations)) {
        if (options.sid !== undefined && authorization.sid !== options.sid) continue;
        const client = await provider.Client.find(clientId);
        if (!client) continue;
        await client.backchannelLogout(accountId, authorization.sid);
        sent += 1;
      }
    }
    return sent;
  }

  return {
    issuer,
    port,
    provider,
    revokeGrants,
    refreshTokens: (accountId) =>
      store.entries('RefreshToken').filter((e) => accountId === undefined || e.payload.accountId === accountId),
    entries: (model) => store.entries(model),
    refreshTokenReuseCount: () => reuseCount,
    backchannelLogout,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      store.clear();
    },
  };
}
