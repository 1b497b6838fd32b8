import { z } from 'zod';
import { parseAddressRange } from '../lib/address-ranges.js';
import { parseDuration } from '../lib/duration.js';

/**
 * The one source of the config's shape, its defaults and its types.
 * Raw YAML (after ${env:…} and *_file resolution) is parsed by `configSchema`;
 * unknown keys are refused everywhere (strictObject).
 */
const duration = z
  .string()
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a duration like "90s", "15m" or "14h" (got "${text}")` });
      return z.NEVER;
    }
    return ms;
  });

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be "host:port", e.g. "0.0.0.0:8080"');

const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http(s) URL');

/**
 * Where browsers reach the gateway. Only an origin: the gateway's own endpoints live at
 * /.portcullis/ on that host (cookie paths, form actions and the OIDC redirect_uri are built that
 * way), so a path prefix would send browsers to URLs the gateway never answers. A query, fragment
 * or user:password would end up inside every URL built from it.
 */
const publicUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
    return;
  }
  const origin = url.origin;
  if (url.pathname !== '/') {
    ctx.addIssue({
      code: 'custom',
      message: `a path ("${url.pathname}") is not supported: the gateway's endpoints live at /.portcullis/ on the host itself; use "${origin}" (route paths go in routes[].from)`,
    });
  }
  if (url.search !== '' || value.includes('?')) ctx.addIssue({ code: 'custom', message: `must not have a query; use "${origin}"` });
  if (url.hash !== '' || value.includes('#')) ctx.addIssue({ code: 'custom', message: `must not have a fragment; use "${origin}"` });
  if (url.username !== '' || url.password !== '' || /^[a-z]+:\/\/[^/?#]*@/i.test(value)) {
    ctx.addIssue({ code: 'custom', message: 'must not contain a user name or password' });
  }
});

/**
 * Who may set X-Forwarded-* (and name the original request to forward-auth): nobody (false),
 * every peer (true: only when nothing but the proxy can reach the gateway), or the listed proxy
 * addresses and CIDR ranges.
 */
const trustedProxies = z.union([
  z.boolean(),
  z.array(
    z.string().refine((entry) => parseAddressRange(entry) !== undefined, 'must be an IP address or a CIDR range like "10.0.0.0/8" or "fd00::/8"'),
  ),
]);

/** pino's levels; LOG_LEVEL in the environment takes the same values */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const routeSchema = z.strictObject({
  from: z.string().min(1, 'must be a URL like "https://app.example.com/path"'),
  to: httpUrl,
  policy: z.string().min(1).optional(),
  public: z.boolean().default(false),
  preserve_host: z.boolean().default(false),
  strip_prefix: z.boolean().default(false),
  timeout: duration.prefault('30s'),
  websockets: z.boolean().default(false),
  /** also accept `Authorization: Bearer <IdP access token>` (APIs, scripts); see idp.access_token_audiences */
  bearer_tokens: z.boolean().default(false),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      listen: hostPort.default('0.0.0.0:8080'),
      admin_listen: hostPort.default('127.0.0.1:9090'),
      public_url: publicUrl,
      trust_forwarded_headers: trustedProxies.default(false),
      /** graceful drain limit on SIGTERM */
      shutdown_timeout: duration.prefault('10s'),
      max_header_bytes: z.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
    }),
  idp: z.strictObject({
    issuer: httpUrl,
    client_id: z.string().min(1),
    client_secret: z.string().min(1).optional(),
    scopes: z.array(z.string().min(1)).default(['openid', 'profile', 'email', 'offline_access']),
    allow_insecure_http: z.boolean().default(false),
    /** how long a login attempt (state/nonce/PKCE) stays valid */
    login_timeout: duration.prefault('10m'),
    /** claim that carries group membership */
    groups_claim: z.string().min(1).default('groups'),
    /** `aud` values a Bearer access token must carry (one of them) on routes with bearer_tokens */
    access_token_audiences: z.array(z.string().min(1)).default([]),
  }),
  cookie: z.strictObject({
    name: z
      .string()
      .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a valid cookie name (RFC 6265 token)')
      .default('_portcullis'),
    secret: z.string().refine((s) => Buffer.byteLength(s) >= 32, 'must be at least 32 bytes'),
    domain: z.string().default(''),
    secure: z.union([z.literal('auto'), z.boolean()]).default('auto'),
    same_site: z.enum(['lax', 'strict', 'none']).default('lax'),
  }),
  session: z
    .strictObject({
      store: z.enum(['memory', 'redis']).default('memory'),
      redis: z
        .strictObject({
          url: z.string().min(1).default('redis://127.0.0.1:6379/0'),
          key_prefix: z.string().default('portcullis:'),
          /** where CONFIG SET is not allowed, notify-keyspace-events must be set by the operator */
          configure_keyspace_events: z.boolean().default(true),
          /** how long a logout tombstone stays visible to replicas */
          tombstone_ttl: duration.prefault('5m'),
          /** max queued writes kept while Redis is unreachable */
          outage_queue_limit: z.number().int().min(1).default(10_000),
          /** keep only this many recently used sessions in each replica's memory; absent = every session */
          mirror_max_sessions: z.number().int().min(1).optional(),
        })
        .prefault({}),
      /** 32-byte key (base64/base64url or >= 32 chars) for tokens at rest; derived from cookie.secret when absent */
      encryption_key: z.string().min(1).optional(),
      lifetime: duration.prefault('14h'),
      idle_timeout: duration.prefault('2h'),
      refresh_ahead: duration.prefault('60s'),
      /** transient refresh failures retry with exponential backoff up to this delay */
      refresh_max_backoff: duration.prefault('5m'),
    })
    .prefault({}),
  routes: z.array(routeSchema).min(1, 'at least one route is required'),
  policies_dir: z.string().default('policies'),
  signing: z
    .strictObject({
      algorithm: z.literal('ES256').default('ES256'),
      rotate_every: duration.prefault('24h'),
      publish_ahead: duration.prefault('2m'),
      assertion_ttl: duration.prefault('5m'),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(LOG_LEVELS).default('info'),
    })
    .prefault({}),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
