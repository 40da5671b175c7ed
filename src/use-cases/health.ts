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

/**
 * The Prometheus exposition, after refreshing the gauges of open and overdue requests from the ledger
 * (which follows deadline extensions).
 * @example const { contentType, text } = await metricsExposition(deps);
 */
export async function metricsExposition(deps: UseCaseDeps): Promise<{ contentType: string; text: string }> {
  const { metrics } = deps;
  const open = await deps.requests.countOpen();
  metrics.openErasures.reset();
  for (const [status, n] of Object.entries(open.byStatus)) metrics.openErasures.set({ status }, n);
  metrics.overdueErasures.set(open.overdue);
  return { contentType: metrics.registry.contentType, text: await metrics.registry.metrics() };
}

/**
 * Every public key that ever signed a certificate, as a JWK set.
 * @example const set = await publicKeys(deps);
 */
export function publicKeys(deps: UseCaseDeps): Promise<unknown> {
  return deps.certificates.jwks();
}
