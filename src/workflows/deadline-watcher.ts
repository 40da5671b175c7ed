/**
 * The deadline watcher runs beside everything else: when the (possibly extended) legal deadline passes
 * with work outstanding it marks the request overdue and escalates once; an extension that moves the
 * deadline ahead clears `overdue` (in the extendDeadline rule) and the watcher starts counting again.
 */
import * as wf from '@temporalio/workflow';
import type { ErasureState } from '../domain';
import type { Run } from './run';
import { isFinished, pendingSystems } from './state';

/** Whether the request has just become overdue: the deadline has passed and it is not marked yet. */
export const becomesOverdue = (state: Pick<ErasureState, 'overdue' | 'deadlineAt'>, nowMs: number): boolean =>
  !state.overdue && state.deadlineAt <= nowMs;

/** Watches the deadline until the request is finished. */
export async function watchDeadline(run: Run): Promise<void> {
  const { state } = run;
  while (!isFinished(state)) {
    const deadline = state.deadlineAt;
    if (becomesOverdue(state, Date.now())) {
      state.overdue = true;
      run.sync();
      await run.escalate('overdue', { systemIds: pendingSystems(state) }, 'the legal deadline has passed with work outstanding');
    } else if (!state.overdue) {
      await wf.condition(() => isFinished(state) || state.deadlineAt !== deadline, deadline - Date.now());
      continue;
    }
    await wf.condition(() => isFinished(state) || !state.overdue);
  }
}
