/**
 * The automated lane: an activity erases the system, retrying for days; a failure that retrying cannot
 * fix puts it in `needs_attention` until an operator's `retrySystem`; verification sends a system with
 * data left back to erase, at most `maxVerifyRounds` times. Rules first (pure), then the lane's steps.
 */
import * as wf from '@temporalio/workflow';
import { failureTypes, type EraseResult, type ErasureState, type JurisdictionPolicy, type SystemPlan, type SystemState } from '../domain';
import { failureMessage, noteStopped, type Run } from './run';
import { isDone, iso, markNeedsAttention, receiptOf } from './state';

/** Whether every system `p` depends on is erased (unknown dependencies do not block). */
export function dependenciesErased(state: ErasureState, p: SystemPlan): boolean {
  return p.dependsOn.every((d) => !state.systems[d] || isDone(state.systems[d]) || state.systems[d].status === 'erased');
}

/** An operator asked to retry: the system starts over from `pending`. */
export function resetForRetry(s: SystemState): void {
  s.retryRequested = false;
  s.lastError = undefined;
  s.status = 'pending';
}

/** Records a successful erase; counts add up over verification rounds. */
export function recordErased(s: SystemState, r: EraseResult, startedAt: string, nowMs: number): void {
  s.receipt = receiptOf(s, {
    action: r.action,
    found: (s.receipt?.found ?? 0) + r.found,
    erased: (s.receipt?.erased ?? 0) + r.erased,
    evidenceHash: r.evidenceHash,
    attempts: s.attempts,
    startedAt,
    completedAt: iso(nowMs),
    details: r.details,
  });
  s.status = 'erased';
}

/**
 * Applies a verification count: `verified` at 0; otherwise back to `pending` for another round, or
 * `needs_attention` once the rounds are used up (the caller escalates).
 */
export function applyVerification(s: SystemState, remaining: number, policy: Pick<JurisdictionPolicy, 'maxVerifyRounds'>): 'verified' | 'again' | 'needs_attention' {
  if (s.receipt) s.receipt.remaining = remaining;
  if (remaining === 0) {
    s.status = 'verified';
    return 'verified';
  }
  s.verifyRounds++;
  if (s.verifyRounds < policy.maxVerifyRounds) {
    s.status = 'pending';
    return 'again';
  }
  markNeedsAttention(s, `${remaining} item(s) remain after ${s.verifyRounds} verification round(s)`);
  return 'needs_attention';
}

/** Whether an activity failed because its system is paused for every request (it touched nothing). */
export function isPausedFailure(err: unknown): boolean {
  const cause = err instanceof wf.ActivityFailure ? err.cause : err;
  return cause instanceof wf.ApplicationFailure && cause.type === failureTypes.systemPaused;
}

/** The system is paused: the lane waits for the resume without counting an attempt. Pure. */
export function notePaused(s: SystemState, nowMs: number): void {
  s.paused ??= { since: iso(nowMs) };
  if (s.status === 'erasing') {
    s.status = 'pending';
    s.attempts = Math.max(0, s.attempts - 1);
  }
}

/** One erase attempt of an automated system (after the legal-hold gate; a paused system waits first). */
export async function eraseOnce(run: Run, s: SystemState): Promise<void> {
  if (s.paused) await run.pauseGate(s);
  if (run.draining) return;
  s.status = 'erasing';
  s.attempts++;
  const startedAt = new Date().toISOString();
  run.sync();
  try {
    const r = await run.stoppable((a) => a.eraseSystem(run.task(s.id)), { summary: `erase ${s.id}`, system: s });
    if (r.stopped) {
      // Stopped by a legal hold or a pause: the lane waits for the release, then erases again from this progress.
      noteStopped(s, 'erase', r.progress, Date.now());
      s.status = 'pending';
    } else {
      recordErased(s, r.value, startedAt, Date.now());
      s.resume = undefined;
      // Lean runs take the count the erase made on its own connection instead of a verify activity.
      if (run.lean && r.value.verified) s.verifiedAfterErase = r.value.verified.remaining;
    }
  } catch (err) {
    if (err instanceof wf.CancelledFailure) throw err;
    if (isPausedFailure(err)) {
      notePaused(s, Date.now());
    } else {
      markNeedsAttention(s, failureMessage(err));
      run.sync();
      await run.escalate('needs_attention', { systemIds: [s.id] }, s.lastError);
    }
  }
  run.sync();
}

/** Verifies one erased system and applies the count; a paused system waits for the resume first. */
export async function verifyOnce(run: Run, s: SystemState): Promise<void> {
  if (s.verifiedAfterErase !== undefined) {
    const remaining = s.verifiedAfterErase;
    s.verifiedAfterErase = undefined;
    if (applyVerification(s, remaining, run.policy) === 'needs_attention') {
      await run.escalate('needs_attention', { systemIds: [s.id] }, s.lastError);
    }
    return;
  }
  for (;;) {
    await run.heldGate();
    if (s.paused) await run.pauseGate(s);
    try {
      const { remaining } = await run.long(`verify ${s.id}`).verifySystem(run.task(s.id));
      if (applyVerification(s, remaining, run.policy) === 'needs_attention') {
        await run.escalate('needs_attention', { systemIds: [s.id] }, s.lastError);
      }
      return;
    } catch (err) {
      if (!isPausedFailure(err)) throw err;
      notePaused(s, Date.now());
      run.sync();
    }
  }
}
