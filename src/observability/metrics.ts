import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

/** Every metric the gateway exports, on its own registry (no prom-client globals). Names are in CONTRACT.md. */
export interface Metrics {
  registry: Registry;
  /** portcullis_http_requests_total and portcullis_http_request_duration_seconds, tallied per request */
  requests: RequestMetrics;
  upstreamErrors: Counter<'route' | 'kind'>;
  sessionsActive: Gauge;
  logins: Counter<'result'>;
  logouts: Counter<'kind'>;
  connectionsClosed: Counter<'reason'>;
  tokenRefresh: Counter<'result'>;
  syncEvents: Counter<'event'>;
  storeUp: Gauge;
  jwksKeys: Gauge;
  buildInfo: Gauge<'version' | 'node'>;
  configReloadSuccess: Gauge;
  configReloadTimestamp: Gauge;
}

export interface MetricsOptions {
  /** prom-client's process and Node.js metrics (default true) */
  defaultMetrics?: boolean;
  /** the package version for portcullis_build_info */
  version?: string;
}

/**
 * prom-client's defaults that are gauges named like counters, which `promtool check metrics`
 * refuses ("non-counter metrics should not have _total suffix"). The same counts stay available
 * per type as nodejs_active_handles{type} etc.; sum() them for the totals.
 */
const NON_COMPLIANT_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** From 0.5 ms (a cached assertion on a local upstream) to the longest route timeout worth seeing (30 s). */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Label values known up front, exported as 0 so rate() and alerts work before the first event. */
export const KNOWN = {
  loginResults: ['success', 'failure'],
  // rp = POST /.portcullis/logout; user = ended on the user's own page; revoked = a refresh the IdP refused
  logoutKinds: ['rp', 'backchannel', 'frontchannel', 'user', 'operator', 'revoked', 'expired'],
  /** why the gateway closed an open WebSocket or streaming response (a small, fixed set) */
  closeReasons: ['logout', 'expired', 'policy', 'shutdown'],
  refreshResults: ['ok', 'refused', 'transient', 'error'],
} as const;

export type LogoutKind = (typeof KNOWN.logoutKinds)[number];
export type CloseReason = (typeof KNOWN.closeReasons)[number];

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    for (const name of NON_COMPLIANT_DEFAULTS) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const metrics: Metrics = {
    registry,
    requests: new RequestMetrics(registry),
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
      help: 'Sessions ended, by kind (rp, backchannel, frontchannel, user, operator, revoked, expired)',
      labelNames: ['kind'] as const,
      registers,
    }),
    connectionsClosed: new Counter({
      name: 'portcullis_connections_closed_total',
      help: 'Open WebSockets and streaming responses the gateway closed, by reason (logout, expired, policy, shutdown)',
      labelNames: ['reason'] as const,
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
    buildInfo: new Gauge({
      name: 'portcullis_build_info',
      help: 'Always 1; the labels say which Portcullis and which Node.js run here',
      labelNames: ['version', 'node'] as const,
      registers,
    }),
    configReloadSuccess: new Gauge({
      name: 'portcullis_config_last_reload_success',
      help: '1 when the last config load (start or reload) succeeded, 0 when it was refused',
      registers,
    }),
    configReloadTimestamp: new Gauge({
      name: 'portcullis_config_last_reload_timestamp_seconds',
      help: 'Unix time of the last successful config load (start or reload)',
      registers,
    }),
  };
  metrics.buildInfo.set({ version: options.version ?? 'unknown', node: process.version }, 1);
  for (const result of KNOWN.loginResults) metrics.logins.inc({ result }, 0);
  for (const kind of KNOWN.logoutKinds) metrics.logouts.inc({ kind }, 0);
  for (const reason of KNOWN.closeReasons) metrics.connectionsClosed.inc({ reason }, 0);
  for (const result of KNOWN.refreshResults) metrics.tokenRefresh.inc({ result }, 0);
  return metrics;
}

/** Records a config load: at start, and on every reload attempt (failed ones keep the old timestamp). */
export function recordConfigLoad(metrics: Metrics, ok: boolean, atMs: number): void {
  metrics.configReloadSuccess.set(ok ? 1 : 0);
  if (ok) metrics.configReloadTimestamp.set(atMs / 1000);
}

interface RouteTally {
  /** requests by method, then status code */
  byMethod: Map<string, Map<number, number>>;
  /** non-cumulative counts per DURATION_BUCKETS bound, then one for +Inf */
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * The proxy port's request counter and duration histogram, in the exposition format prom-client
 * gives its own (CONTRACT: portcullis_http_requests_total{route,method,code} and
 * portcullis_http_request_duration_seconds{route}). Every request adds to both, so they are plain
 * numbers per route, turned into samples only when scraped: prom-client hashes the label set on
 * every inc() and observe(), even through a labelled child, which showed in profiles of the
 * request path. Routes come from config and node's parser knows a fixed list of methods, so the
 * label sets stay bounded.
 */
export class RequestMetrics {
  private readonly routes = new Map<string, RouteTally>();

  constructor(registry: Registry) {
    // prom-client's registry takes any metric that reports its samples through get()
    registry.registerMetric(this.counter() as unknown as Metric);
    registry.registerMetric(this.histogram() as unknown as Metric);
  }

  /**
   * One request answered: its route label, method, status code and duration. Requests refused
   * before parsing (400, 431) have no duration and are only counted.
   */
  record(route: string, method: string, code: number, seconds?: number): void {
    let tally = this.routes.get(route);
    if (tally === undefined) {
      tally = { byMethod: new Map(), buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
      this.routes.set(route, tally);
    }
    let byCode = tally.byMethod.get(method);
    if (byCode === undefined) {
      byCode = new Map();
      tally.byMethod.set(method, byCode);
    }
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
    if (seconds === undefined) return;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    tally.buckets[bucket]!++;
    tally.sum += seconds;
    tally.count++;
  }

  private counter() {
    const name = 'portcullis_http_requests_total';
    const get = async () => {
      const values: Array<{ labels: Record<string, string>; value: number }> = [];
      for (const [route, tally] of this.routes) {
        for (const [method, byCode] of tally.byMethod) {
          for (const [code, value] of byCode) values.push({ labels: { route, method, code: String(code) }, value });
        }
      }
      return { name, help: 'Requests handled on the proxy port', type: 'counter', aggregator: 'sum', values };
    };
    return { name, get, reset: () => this.routes.clear() };
  }

  private histogram() {
    const name = 'portcullis_http_request_duration_seconds';
    const get = async () => {
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
      for (const [route, tally] of this.routes) {
        if (tally.count === 0) continue;
        let cumulative = 0;
        for (const [i, bound] of DURATION_BUCKETS.entries()) {
          cumulative += tally.buckets[i]!;
          values.push({ labels: { route, le: bound }, value: cumulative, metricName: `${name}_bucket` });
        }
        values.push({ labels: { route, le: '+Inf' }, value: tally.count, metricName: `${name}_bucket` });
        values.push({ labels: { route }, value: tally.sum, metricName: `${name}_sum` });
        values.push({ labels: { route }, value: tally.count, metricName: `${name}_count` });
      }
      return { name, help: 'Time until the response was sent in full on the proxy port', type: 'histogram', aggregator: 'sum', values };
    };
    return { name, get, reset: () => this.routes.clear() };
  }
}
