/**
 * The deadline watcher runs beside everything else: when the (possibly extended) legal deadline passes
 * with work outstanding it marks the request overdue and escalates once; an extension that moves the
 * deadline ahead clears `overdue` (in the extendDeadline rule) and the watcher starts counting again.
 */
import * as wf from '@temporalio/workflow';
import { auditEventTypes, type ErasureState } from '../domain';
import type { Run } from './run';
import { isFinished, iso, pendingSystems } from './state';

/** Patch: an accepted extension is recorded in the ledger (runs from before it never record one). */
export const EXTENSION_IN_LEDGER = 'deadline-extension-in-ledger';

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
      await run.waitUntil(deadline, () => isFinished(state) || state.deadlineAt !== deadline, 'legal deadline');
      continue;
    }
    await wf.condition(() => isFinished(state) || !state.overdue);
  }
}

/**
 * Waits for an accepted extension and records it as the audit event `deadline.extended`, which moves the
 * ledger's deadline (overdue counts in the API and metrics read it). At most once per request, also
 * across continue-as-new; the detail holds times and days only, never the operator's free text.
 */
export async function recordExtension(run: Run): Promise<void> {
  const { state } = run;
  await wf.condition(() => state.extended && !state.extensionRecorded);
  if (!wf.patched(EXTENSION_IN_LEDGER)) return;
  const accepted = state.actions.find((a) => a.signal === 'extendDeadline' && a.accepted)?.detail;
  await run.recordEvent({
    requestId: state.requestId,
    type: auditEventTypes.deadlineExtended,
    detail: { deadline: iso(state.deadlineAt), from: accepted?.from, days: accepted?.days },
  });
  state.extensionRecorded = true;
}
