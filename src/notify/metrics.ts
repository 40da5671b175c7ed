/**
 * Notifications in Prometheus: `erasure_notifications{status}` (pending, sent, failed), read from the engine
 * database when scraped (at most every 5 s), so the API's `/metrics` shows what the workers' dispatchers did,
 * and `erasure_notification_attempts_total{channel,outcome}` counted by this process's dispatcher.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Pool } from '../ledger/db';
import { countNotifications, type NotificationCounts } from './queue';

/** What the dispatcher reports each outcome to. */
export type NotificationOutcome = (channel: string, outcome: 'sent' | 'retry' | 'failed') => void;

const MAX_AGE_MS = 5_000;

const ATTEMPTS = 'erasure_notification_attempts_total';

/**
 * Registers the notification metrics on a registry (once: a second call reuses them); returns the
 * dispatcher's outcome callback.
 * @example const onOutcome = registerNotificationMetrics(engine.metrics.registry, engine.pool);
 */
export function registerNotificationMetrics(registry: Registry, pool: Pool): NotificationOutcome {
  const existing = registry.getSingleMetric(ATTEMPTS) as Counter<'channel' | 'outcome'> | undefined;
  if (existing) return (channel, outcome) => existing.inc({ channel, outcome });
  let readAt = Number.NEGATIVE_INFINITY;
  let last: NotificationCounts | undefined;
  new Gauge({
    name: 'erasure_notifications',
    help: 'Notifications in the engine database by status: pending (queued or retrying), sent, failed (never deliverable; the reason is in the audit trail)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      if (Date.now() - readAt >= MAX_AGE_MS) {
        // A database that does not answer leaves the last reading in place rather than failing the scrape.
        last = await countNotifications(pool).catch(() => last);
        readAt = Date.now();
      }
      if (!last) return;
      for (const [status, n] of Object.entries(last)) this.set({ status }, n);
    },
  });
  const attempts = new Counter({
    name: ATTEMPTS,
    help: "Delivery attempts of this process's notification dispatcher, by channel (email, webhook) and outcome (sent, retry, failed)",
    labelNames: ['channel', 'outcome'],
    registers: [registry],
  });
  return (channel, outcome) => attempts.inc({ channel, outcome });
}
