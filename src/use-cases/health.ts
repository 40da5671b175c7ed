/** What operators and scrapers ask of the engine itself: readiness, metrics, the certificate keys. */
import type { UseCaseDeps } from './types';

export interface Readiness {
  ready: boolean;
  /** `ok`, or the error message of each dependency. */
  checks: { database: string; temporal: string };
}

const outcome = (p: Promise<unknown>): Promise<string> => p.then(
  () => 'ok',
  (e: Error) => e.message,
);

/**
 * Checks the ledger database and Temporal; a failed check is logged with its message.
 * @example const { ready } = await readiness(deps);
 */
export async function readiness(deps: UseCaseDeps): Promise<Readiness> {
  const [database, temporal] = await Promise.all([
    outcome(deps.pingDatabase()),
    outcome(
      deps.client.connection.withDeadline(Date.now() + (deps.timeouts?.readinessMs ?? 2000), () => deps.client.connection.workflowService.getSystemInfo({})),
    ),
  ]);
  const checks = { database, temporal };
  const ready = database === 'ok' && temporal === 'ok';
  if (!ready) deps.logger.warn({ checks }, 'not ready');
  return { ready, checks };
}

/** How long a reading of the ledger gauges serves scrapes before the next scrape reads the ledger again. */
export const LEDGER_GAUGES_MAX_AGE_MS = 5_000;

/**
 * Refreshes the gauges of open and overdue requests from the ledger (which follows deadline extensions), at
 * most once per `maxAgeMs`: however many scrapers there are, the ledger sees one query per period, and scrapes
 * that arrive while it runs share it. A failed reading is not kept, so the next scrape tries again.
 * @example const refresh = ledgerGaugeRefresher(deps); await refresh(); // reads the ledger
 */
export function ledgerGaugeRefresher(deps: UseCaseDeps, maxAgeMs = LEDGER_GAUGES_MAX_AGE_MS, now: () => number = Date.now): () => Promise<void> {
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | undefined;
  const read = async () => {
    const open = await deps.requests.countOpen();
    deps.metrics.openErasures.reset();
    for (const [status, n] of Object.entries(open.byStatus)) deps.metrics.openErasures.set({ status }, n);
    deps.metrics.overdueErasures.set(open.overdue);
    readAt = now();
  };
  return () => {
    if (now() - readAt < maxAgeMs) return Promise.resolve();
    reading ??= read().finally(() => (reading = undefined));
    return reading;
  };
}

/**
 * The Prometheus exposition; `refreshGauges` (one {@link ledgerGaugeRefresher} per API) decides whether the
 * ledger gauges are read again first.
 * @example const { contentType, text } = await metricsExposition(deps, refresh);
 */
export async function metricsExposition(deps: UseCaseDeps, refreshGauges: () => Promise<void>): Promise<{ contentType: string; text: string }> {
  await refreshGauges();
  return { contentType: deps.metrics.registry.contentType, text: await deps.metrics.registry.metrics() };
}

/**
 * Every public key that ever signed a certificate, as a JWK set.
 * @example const set = await publicKeys(deps);
 */
export function publicKeys(deps: UseCaseDeps): Promise<unknown> {
  return deps.certificates.jwks();
}
