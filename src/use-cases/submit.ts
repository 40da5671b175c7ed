/** Submitting an erasure request: the intake records it, queued, and the intake relay starts its workflow. */
import { submitErasure, type ErasureSubmission } from '../intake/intake';
import type { RequestRecord } from '../ledger/requests';
import { UseCaseError } from './errors';
import type { UseCaseDeps } from './types';

/**
 * Accepts one request. The same idempotency key with the same body returns the existing request
 * (`created: false`); with a different body it is a conflict.
 * @example const { created, record } = await submit(deps, { subject: { email }, jurisdiction: 'GDPR' });
 */
export async function submit(deps: UseCaseDeps, submission: ErasureSubmission): Promise<{ created: boolean; record: RequestRecord }> {
  const outcome = await submitErasure({ ...deps.intake, requests: deps.requests, client: deps.client, logger: deps.logger }, submission);
  const { record } = outcome;
  if (outcome.kind === 'conflict') {
    deps.metrics.intake.inc({ outcome: 'conflict' });
    throw new UseCaseError('conflict', `request ${record.requestId} already exists with a different body`, { requestId: record.requestId });
  }
  deps.metrics.intake.inc({ outcome: outcome.kind === 'existing' ? 'duplicate' : record.status });
  return { created: outcome.kind === 'created', record };
}
