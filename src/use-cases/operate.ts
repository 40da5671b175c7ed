/**
 * Operator actions: the twins of the workflow's signals, sent through its `operatorAction` update so the
 * caller hears at once whether the workflow accepted the action, and if not, the workflow's own reason.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { OperatorActionName } from '../domain';
import { operatorActionUpdate } from '../workflows/definitions';
import { UseCaseError } from './errors';
import { findRequest } from './read';
import type { UseCaseDeps } from './types';

/** Temporal's answer when the workflow is gone or closed: the request's state, not an outage. */
function isClosedWorkflow(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError || /already completed|not found/i.test((err as Error)?.message ?? '');
}

/**
 * Runs one operator action. `conflict` when the request is queued, closed or the workflow refuses;
 * `unavailable` (carrying Temporal's error as its cause) when Temporal does not answer in time.
 * @example await operatorAction(deps, 'req-1', 'extendDeadline', { days: 30, reason: 'complex request' });
 */
export async function operatorAction(deps: UseCaseDeps, requestId: string, action: OperatorActionName, payload: unknown): Promise<{ requestId: string; action: OperatorActionName }> {
  const record = await findRequest(deps, requestId);
  if (!record.workflowStartedAt) throw new UseCaseError('conflict', `request ${record.requestId} is queued; its workflow has not started yet`);
  let result;
  try {
    result = await deps.client.connection.withDeadline(Date.now() + (deps.timeouts?.actionMs ?? 10_000), () =>
      deps.client.workflow.getHandle(record.workflowId).executeUpdate(operatorActionUpdate, { args: [{ signal: action, payload }] }),
    );
  } catch (err) {
    if (isClosedWorkflow(err)) throw new UseCaseError('conflict', `request ${record.requestId} is no longer open (${record.status})`);
    throw new UseCaseError('unavailable', 'Temporal did not answer; try again', {}, { cause: err });
  }
  if (!result.accepted) throw new UseCaseError('conflict', result.reason ?? 'refused', { requestId: record.requestId });
  return { requestId: record.requestId, action };
}
