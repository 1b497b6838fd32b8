import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric the gateway exports, on its own registry (no prom-client globals). Names are in CONTRACT.md. */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'code'>;
  httpDuration: Histogram<'route'>;
  upstreamErrors: Counter<'route' | 'kind'>;
  sessionsActive: Gauge;
  logins: Counter<'result'>;
  logouts: Counter<'kind'>;
  tokenRefresh: Counter<'result'>;
  syncEvents: Counter<'event'>;
  storeUp: Gauge;
  jwksKeys: Gauge;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'portcullis_http_requests_total',
      help: 'Requests handled on the proxy port',
      labelNames: ['route', 'method', 'code'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'portcullis_http_request_duration_seconds',
      help: 'Time to response headers on the proxy port',
      labelNames: ['route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    upstreamErrors: new Counter({
      name: 'portcullis_upstream_errors_total',
      help: 'Upstream failures by kind (connect, timeout, reset)',
      labelNames: ['route', 'kind'] as const,
      registers,
    }),
    sessionsActive: new Gauge({ name: 'portcullis_sessions_active', help: 'Sessions in this replica\'s mirror', registers }),
    logins: new Counter({
      name: 'portcullis_logins_total',
      help: 'Completed and failed logins',
      labelNames: ['result'] as const,
      registers,
    }),
    logouts: new Counter({
      name: 'portcullis_logouts_total',
      help: 'Sessions ended, by kind (user, backchannel, revoked, operator, expired)',
      labelNames: ['kind'] as const,
      registers,
    }),
    tokenRefresh: new Counter({
      name: 'portcullis_token_refresh_total',
      help: 'Background token refreshes by result',
      labelNames: ['result'] as const,
      registers,
    }),
    syncEvents: new Counter({
      name: 'portcullis_session_sync_events_total',
      help: 'Session store change events seen by this replica',
      labelNames: ['event'] as const,
      registers,
    }),
    storeUp: new Gauge({ name: 'portcullis_store_up', help: '1 when the session store is reachable', registers }),
    jwksKeys: new Gauge({ name: 'portcullis_jwks_keys', help: 'Keys published in the JWKS', registers }),
  };
}
