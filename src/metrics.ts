/** Prometheus metrics shared by the API and the worker (one registry per process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface EngineMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  intake: Counter<'outcome'>;
  openErasures: Gauge<'status'>;
  overdueErasures: Gauge;
  systemErasureSeconds: Histogram<'system' | 'kind'>;
  systemErasureFailures: Counter<'system' | 'kind' | 'retryable'>;
  /** Messages the event relay published to Kafka (acknowledged), by topic. */
  eventsPublished: Counter<'topic'>;
  /** Messages waiting in the event outbox, as the relay last counted them. */
  eventOutboxBacklog: Gauge;
  /** Seconds from a request's acceptance into the ledger to its workflow's start (the intake relay). */
  intakeStartSeconds: Histogram;
  /** Workflow starts the intake relay has in flight right now (its concurrency bound is the ceiling); the backlog is `erasure_open{status="queued"}`. */
  intakeStartsInFlight: Gauge;
}

/**
 * Creates the engine's metrics on a fresh registry.
 * @example const metrics = createMetrics(); app.get('/metrics', …metrics.registry.metrics())
 */
export function createMetrics(opts: { defaults?: boolean } = {}): EngineMetrics {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'erasure_engine_' });
  return {
    registry,
    httpRequests: new Counter({ name: 'erasure_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    intake: new Counter({ name: 'erasure_intake_total', help: 'Erasure submissions by outcome (queued: a new request, duplicate, conflict, invalid)', labelNames: ['outcome'], registers: [registry] }),
    openErasures: new Gauge({ name: 'erasure_open', help: 'Open erasure requests by status (from the ledger)', labelNames: ['status'], registers: [registry] }),
    overdueErasures: new Gauge({ name: 'erasure_overdue', help: 'Open erasure requests past their deadline', registers: [registry] }),
    systemErasureSeconds: new Histogram({
      name: 'erasure_system_duration_seconds',
      help: 'Duration of one system erase activity',
      labelNames: ['system', 'kind'],
      buckets: [0.05, 0.25, 1, 5, 30, 120, 600, 3600],
      registers: [registry],
    }),
    systemErasureFailures: new Counter({ name: 'erasure_system_failures_total', help: 'Failed system erase attempts', labelNames: ['system', 'kind', 'retryable'], registers: [registry] }),
    eventsPublished: new Counter({ name: 'erasure_events_published_total', help: 'Messages the event relay published to Kafka, by topic', labelNames: ['topic'], registers: [registry] }),
    eventOutboxBacklog: new Gauge({ name: 'erasure_event_outbox_backlog', help: 'Messages waiting in the event outbox for Kafka', registers: [registry] }),
    intakeStartSeconds: new Histogram({
      name: 'erasure_intake_start_seconds',
      help: "Seconds from a request's acceptance into the ledger to its workflow's start",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300],
      registers: [registry],
    }),
    intakeStartsInFlight: new Gauge({ name: 'erasure_intake_starts_in_flight', help: 'Workflow starts the intake relay has in flight', registers: [registry] }),
  };
}
