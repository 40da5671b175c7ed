/**
 * Identity enrichment: a system whose plan `provides` identifiers (the customer row found by e-mail gives
 * the subject's `userId`) is asked for them before anything is erased, so every system that matches on a
 * derived identifier gets it, and the provider's rows are still there to be read. What is found is merged
 * into the state once; every later task carries it. A provider that cannot answer is `needs_attention` and
 * no system is erased until an operator's `retrySystem` has it asked again: the workflow cannot tell which
 * systems need the missing identifier, and erasing them without it would leave the subject's data behind
 * under a certificate that says otherwise. Rules first (pure), then the step.
 */
import * as wf from '@temporalio/workflow';
import { identifierValue, type DerivedIdentifiers, type ErasureState, type SubjectIdentifiers, type SystemPlan, type SystemState } from '../domain';
import { resetForRetry } from './automated-lane';
import { failureMessage, type Run } from './run';
import { isErased, markNeedsAttention } from './state';

/** Patch guarding the identify step, so runs recorded before it replay without it. */
export const DERIVE_IDENTIFIERS = 'derive-identifiers';

/** The names `p` provides that the request did not carry: the request's own identifiers are never replaced. */
export function missingNames(subject: SubjectIdentifiers, p: SystemPlan): string[] {
  return (p.provides ?? []).filter((name) => !identifierValue(subject, name));
}

/** Whether `s` must still be asked for its identifiers (an erased system has nothing left to tell). */
export function needsIdentify(subject: SubjectIdentifiers, p: SystemPlan, s: SystemState): boolean {
  return !s.identified && !isErased(s) && missingNames(subject, p).length > 0;
}

/**
 * Adds what provider `p` found to the state: only names it provides that the request lacks, each name's values
 * the union of every provider's, without repeats, in first-seen order.
 */
export function mergeDerived(state: ErasureState, subject: SubjectIdentifiers, p: SystemPlan, found: DerivedIdentifiers): void {
  for (const name of missingNames(subject, p)) {
    const values = Array.isArray(found?.[name]) ? found[name].filter((v) => typeof v === 'string' && v !== '') : [];
    if (values.length === 0) continue;
    const merged = [...new Set([...(state.derived?.[name] ?? []), ...values])];
    state.derived = { ...state.derived, [name]: merged };
  }
}

/** Asks one provider once; a failure (retries used up, or a permanent one) puts it in `needs_attention`. */
export async function identifyOnce(run: Run, s: SystemState): Promise<void> {
  try {
    const found = await run.long(`identify in ${s.id}`).identifySystem(run.task(s.id));
    mergeDerived(run.state, run.input.subject, run.planOf(s.id), found);
    s.identified = true;
  } catch (err) {
    if (err instanceof wf.CancelledFailure) throw err;
    markNeedsAttention(s, `identifying the subject failed: ${failureMessage(err)}`);
    run.sync();
    await run.escalate('needs_attention', { systemIds: [s.id] }, s.lastError);
  }
  run.sync();
}

/** One provider's way to "identified": ask (after the legal-hold gate); after a failure, wait for `retrySystem`. */
export async function identifyLane(run: Run, s: SystemState): Promise<void> {
  const p = run.planOf(s.id);
  while (!run.draining && needsIdentify(run.input.subject, p, s)) {
    if (s.status === 'needs_attention') {
      await wf.condition(() => s.retryRequested || run.draining);
      if (run.draining) return;
      resetForRetry(s);
      run.sync();
    } else {
      await run.holdGate();
      if (run.draining) return;
      await identifyOnce(run, s);
    }
  }
}
