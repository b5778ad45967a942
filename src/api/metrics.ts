// Prometheus metrics (prom-client): request counts and latency by route and status, plus process
// metrics. One registry per app so tests and several servers in one process do not collide.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HttpMetrics {
  readonly registry: Registry;
  observe(method: string, route: string, status: number, seconds: number): void;
}

export function createMetrics(): HttpMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'strata_' });
  const requests = new Counter({ name: 'strata_http_requests_total', help: 'HTTP requests by method, route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] });
  const latency = new Histogram({
    name: 'strata_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // The labelled series of each (method, route, status), looked up once: prom-client hashes the
  // label set on every call otherwise. Bounded: routes are the registered patterns ('unmatched'
  // for the rest) and statuses a few dozen.
  const series = new Map<string, { readonly count: Counter.Internal; readonly time: Histogram.Internal<'method' | 'route' | 'status'> }>();
  return {
    registry,
    observe(method, route, status, seconds) {
      const key = `${method} ${status} ${route}`;
      let s = series.get(key);
      if (s === undefined) {
        const labels = { method, route, status: String(status) };
        s = { count: requests.labels(labels), time: latency.labels(labels) };
        series.set(key, s);
      }
      s.count.inc();
      s.time.observe(seconds);
    },
  };
}
