/**
 * The confirmation lane (manual systems, webhooks in signal mode): notify once, then wait for
 * `confirmDeletion`, reminding the owner on a schedule and escalating a set time before the deadline.
 * Rules first (pure), then the lane's steps.
 */
import * as wf from '@temporalio/workflow';
import { DAY_MS, type ErasureState, type JurisdictionPolicy, type SystemPlan, type SystemState } from '../domain';
import { failureMessage, type Run } from './run';
import { iso, markNeedsAttention } from './state';

/** Time between two reminders: the system's own interval, else the policy's. */
export const reminderIntervalMs = (p: Pick<SystemPlan, 'reminderEveryDays'>, policy: Pick<JurisdictionPolicy, 'reminderEveryDays'>): number =>
  (p.reminderEveryDays ?? policy.reminderEveryDays) * DAY_MS;

/** When an unconfirmed system is escalated: `escalateBeforeDays` before the (possibly extended) deadline. */
export const escalationAt = (state: Pick<ErasureState, 'deadlineAt'>, policy: Pick<JurisdictionPolicy, 'escalateBeforeDays'>): number =>
  state.deadlineAt - policy.escalateBeforeDays * DAY_MS;

/** The system now waits for its confirmation; the first reminder is one interval away. */
export function startAwaiting(s: SystemState, p: SystemPlan, policy: JurisdictionPolicy, nowMs: number): void {
  s.notified = true;
  s.status = 'awaiting_confirmation';
  s.nextReminderAt = nowMs + reminderIntervalMs(p, policy);
  s.receipt = undefined;
}

/** The next time the lane must act on its own: a reminder, or the escalation if not yet sent. */
export function nextWakeAt(s: SystemState, state: ErasureState, policy: JurisdictionPolicy): number {
  return Math.min(s.nextReminderAt ?? Infinity, s.escalated ? Infinity : escalationAt(state, policy));
}

/**
 * Moves the reminder schedule past `nowMs` when a reminder is due; returns whether one should be sent.
 * Under a legal hold the due reminder is skipped (the schedule still moves on).
 */
export function takeReminder(s: SystemState, p: SystemPlan, state: ErasureState, policy: JurisdictionPolicy, nowMs: number): boolean {
  if (s.nextReminderAt === undefined || nowMs < s.nextReminderAt) return false;
  s.nextReminderAt += reminderIntervalMs(p, policy);
  if (state.legalHold) return false;
  s.remindersSent++;
  return true;
}

/** Marks the escalation sent when its time has come; returns whether to send it now. */
export function takeEscalation(s: SystemState, state: ErasureState, policy: JurisdictionPolicy, nowMs: number): boolean {
  if (s.escalated || nowMs < escalationAt(state, policy)) return false;
  s.escalated = true;
  return true;
}

/**
 * Asks the system to erase (once) and starts waiting for its confirmation. A failed notification puts
 * the system in `needs_attention`.
 */
export async function requestConfirmation(run: Run, s: SystemState, p: SystemPlan): Promise<'awaiting' | 'failed' | 'draining'> {
  await run.holdGate();
  if (run.draining) return 'draining';
  if (p.notify && !s.notified) {
    try {
      await run.quickAs(`ask the owner of ${s.id} to erase`).notifySystem(run.task(s.id));
    } catch (err) {
      if (err instanceof wf.CancelledFailure) throw err;
      markNeedsAttention(s, failureMessage(err));
      run.sync();
      return 'failed';
    }
  }
  startAwaiting(s, p, run.policy, Date.now());
  run.sync();
  return 'awaiting';
}

/** Waits for the confirmation or the next reminder/escalation time, and sends what has come due. */
export async function awaitConfirmation(run: Run, s: SystemState, p: SystemPlan): Promise<void> {
  const { state, policy } = run;
  const seenDeadline = state.deadlineAt;
  const wakeAt = nextWakeAt(s, state, policy);
  const summary = wakeAt === s.nextReminderAt ? `reminder for ${s.id}` : `escalation for ${s.id}`;
  await run.waitUntil(wakeAt, () => s.status !== 'awaiting_confirmation' || run.draining || state.deadlineAt !== seenDeadline, summary);
  if (s.status !== 'awaiting_confirmation' || run.draining) return;
  const now = Date.now();
  if (takeReminder(s, p, state, policy, now)) {
    await run.quickAs(`reminder for ${s.id}`).sendReminder({
      requestId: state.requestId,
      systemId: s.id,
      owner: typeof p.spec.owner === 'string' ? p.spec.owner : undefined,
      remindersSent: s.remindersSent,
      deadline: iso(state.deadlineAt),
    });
  }
  if (takeEscalation(s, state, policy, now)) {
    await run.escalate('confirmation_due', { systemIds: [s.id] }, `system "${s.id}" has not confirmed erasure`);
  }
  // Reminders sent and the next one's time: the Web UI's details (not a command).
  run.details();
}
