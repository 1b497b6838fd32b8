import { createServer, type Server } from 'node:http';
import type { Metrics } from '../observability/metrics.js';
import type { Logger } from '../observability/logger.js';

export interface ReadinessCheck {
  /** true once the gateway has been fully ready at least once; it never flips back */
  everReady(): boolean;
  /** the parts and their state, for the /readyz body */
  details(): Record<string, unknown>;
}

/** The admin port: /metrics, /healthz, /readyz. Never on the proxy port. */
export function createAdminServer(deps: {
  metrics: Metrics;
  readiness: ReadinessCheck;
  logger: Logger;
  /** refreshes gauges that are cheaper to compute at scrape time than to track */
  beforeScrape?: () => void;
}): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    res.setHeader('Cache-Control', 'no-store');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const ready = deps.readiness.everReady();
      res
        .writeHead(ready ? 200 : 503, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ status: ready ? 'ready' : 'not ready', ...deps.readiness.details() }));
    } else if (path === '/metrics') {
      deps.beforeScrape?.();
      deps.metrics.registry
        .metrics()
        .then((text) => res.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType }).end(text))
        .catch((error: unknown) => {
          deps.logger.error({ err: error }, 'metrics collection failed');
          res.writeHead(500).end();
        });
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"not found"}');
    }
  });
}
