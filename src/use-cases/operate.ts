/**
 * Operator actions: the twins of the workflow's signals, sent through its `operatorAction` update so the
 * caller hears at once whether the workflow accepted the action, and if not, the workflow's own reason.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { attestedFields, type OperatorActionName } from '../domain';
import { operatorActionUpdate } from '../workflows/definitions';
import { UseCaseError } from './errors';
import { KeyBusyError, type KeyedLimiter } from './limiter';
import { findRequest } from './read';
import type { UseCaseDeps } from './types';

/** Temporal's answer when the workflow is gone or closed: the request's state, not an outage. */
function isClosedWorkflow(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError || /already completed|not found/i.test((err as Error)?.message ?? '');
}

/**
 * Runs one operator action on behalf of the authenticated key `actor` (its name), which the attestor
 * claims for the action so the ledger and the certificate can name it. Actions on one request go through
 * `limiter`, a few at a time (the deadline counts the wait). `conflict` when the request is queued, closed or
 * the workflow refuses; `busy` when too many actions on it are already waiting; `unavailable` (carrying
 * Temporal's error as its cause) when Temporal does not answer in time.
 * @example await operatorAction(deps, limiter, 'req-1', 'extendDeadline', { days: 30, reason: 'complex request' }, 'ops');
 */
export async function operatorAction(
  deps: UseCaseDeps,
  limiter: KeyedLimiter,
  requestId: string,
  action: OperatorActionName,
  payload: unknown,
  actor?: string,
): Promise<{ requestId: string; action: OperatorActionName }> {
  const record = await findRequest(deps, requestId);
  if (!record.workflowStartedAt) throw new UseCaseError('conflict', `request ${record.requestId} is queued; its workflow has not started yet`);
  const claim = actor !== undefined && deps.attestor ? deps.attestor.claim({ requestId: record.requestId, signal: action, fields: attestedFields(payload) }, actor) : undefined;
  let result;
  const deadline = Date.now() + (deps.timeouts?.actionMs ?? 10_000);
  try {
    result = await limiter.run(record.workflowId, () =>
      deps.client.connection.withDeadline(deadline, () =>
        deps.client.workflow.getHandle(record.workflowId).executeUpdate(operatorActionUpdate, { args: [{ signal: action, payload, ...(claim ? { actor: claim } : {}) }] }),
      ),
    );
  } catch (err) {
    if (err instanceof KeyBusyError) throw new UseCaseError('busy', `request ${record.requestId} has too many actions under way (${err.message}); try again shortly`, { requestId: record.requestId });
    if (isClosedWorkflow(err)) throw new UseCaseError('conflict', `request ${record.requestId} is no longer open (${record.status})`);
    throw new UseCaseError('unavailable', 'Temporal did not answer; try again', {}, { cause: err });
  }
  if (!result.accepted) throw new UseCaseError('conflict', result.reason ?? 'refused', { requestId: record.requestId });
  return { requestId: record.requestId, action };
}
