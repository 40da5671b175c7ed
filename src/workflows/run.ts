/**
 * One run of the erasure workflow as the lanes see it: its state, its activity proxies, and the few
 * primitives every lane needs (wait until a time or a change, the legal-hold gate, escalation, search
 * attributes). Built once per run by the workflow; lanes receive it instead of closing over locals.
 * `Date.now()` here is the workflow sandbox's deterministic clock.
 */
import * as wf from '@temporalio/workflow';
import type { AuditEvent, ErasureActivities, EscalationReason, SystemTask } from '../activities/types';
import { DAY_MS, nonRetryableFailureTypes, type ErasurePlan, type ErasureState, type JurisdictionPolicy, type SystemPlan } from '../domain';
import {
  ErasureDeadlineKey,
  ErasureJurisdictionKey,
  ErasureOverdueKey,
  ErasurePendingSystemsKey,
  ErasureStatusKey,
  type ErasureInput,
} from './definitions';
import { derivedOf, iso, searchAttributeValues } from './state';

/** Notifications, ledger writes, certificate: short calls that retry until they succeed. */
const quick = wf.proxyActivities<ErasureActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '30 minutes' },
});

/**
 * Audit events as local activities: they run inside the workflow task instead of a server round trip each.
 * Guarded by {@link PHASE_EVENTS_LOCAL}, so runs recorded before the change replay with scheduled activities.
 */
const local = wf.proxyLocalActivities<ErasureActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
export const PHASE_EVENTS_LOCAL = 'phase-events-as-local-activities';
/** Patch: a run waiting out a legal hold outside the lanes continues as new when history grows. */
export const ROLL_OVER_WHILE_HELD = 'roll-over-while-held';

export interface Run {
  readonly input: ErasureInput;
  readonly state: ErasureState;
  readonly plan: ErasurePlan;
  readonly policy: JurisdictionPolicy;
  /** Bumped by every accepted operator action, so waits can wake on "something changed". */
  version: number;
  /** Set when the run should hand over to a new one; lanes stop at their next wait. */
  draining: boolean;
  /** Escalations in flight; continue-as-new waits for them. */
  escalating: number;
  readonly quick: ErasureActivities;
  planOf(id: string): SystemPlan;
  /** Erase/verify calls retry with backoff for days: until the deadline plus a margin. */
  long(): ErasureActivities;
  /** One system's share of the request, as the activities receive it, with the identifiers derived so far. */
  task(id: string): SystemTask;
  /** Upserts the search attributes when they changed. */
  sync(): void;
  recordEvent(e: AuditEvent): Promise<void>;
  /** Waits until `untilMs` or until `wake()` is true; returns whether woken. */
  waitUntil(untilMs: number, wake: () => boolean): Promise<boolean>;
  /** Legal hold: nothing is erased while one is in place. */
  holdGate(): Promise<void>;
  /**
   * The legal-hold gate of steps that no lane drains (soft delete, verify, certify): while held it hands over
   * to a new run when history grows, so signals sent during a long hold cannot push history past its limit.
   */
  heldGate(): Promise<void>;
  /** Set once the run knows whether it writes operator actions to the ledger (src/workflows/action-log.ts). */
  recordingActions?: boolean;
  /** Continue-as-new, set by the workflow (it owns the hand-over). */
  rollOver?: () => Promise<never>;
  escalate(reason: EscalationReason, ids: { systemIds?: string[]; consumerIds?: string[] }, message?: string): Promise<void>;
  /** Whether history has grown enough to continue as new. */
  shouldRollOver(): boolean;
}

/** The message of an activity failure (its cause), or of any other error. */
export function failureMessage(err: unknown): string {
  if (err instanceof wf.ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** Builds the run's context around its state. */
export function createRun(input: ErasureInput, state: ErasureState): Run {
  const { plan } = input;
  const { policy } = plan;
  const plans = new Map<string, SystemPlan>(plan.systems.map((s) => [s.id, s]));
  let lastAttributes = '';
  const run: Run = {
    input,
    state,
    plan,
    policy,
    version: 0,
    draining: false,
    escalating: 0,
    quick,
    planOf: (id) => plans.get(id)!,
    long: () =>
      wf.proxyActivities<ErasureActivities>({
        startToCloseTimeout: '2 hours',
        heartbeatTimeout: '2 minutes',
        scheduleToCloseTimeout: Math.max(state.deadlineAt + policy.retryMarginDays * DAY_MS - Date.now(), DAY_MS),
        retry: {
          initialInterval: '10 seconds',
          backoffCoefficient: 2,
          maximumInterval: '1 hour',
          nonRetryableErrorTypes: nonRetryableFailureTypes,
        },
      }),
    task: (id) => {
      const derived = derivedOf(state);
      return { requestId: input.requestId, subject: input.subject, subjectRef: input.subjectRef, system: plans.get(id)!, ...(derived ? { derived } : {}) };
    },
    sync() {
      const attrs = searchAttributeValues(state);
      const key = JSON.stringify(attrs);
      if (key === lastAttributes) return;
      lastAttributes = key;
      wf.upsertSearchAttributes([
        { key: ErasureStatusKey, value: attrs.status },
        { key: ErasureDeadlineKey, value: new Date(attrs.deadline) },
        { key: ErasurePendingSystemsKey, value: attrs.pending },
        { key: ErasureOverdueKey, value: attrs.overdue },
        { key: ErasureJurisdictionKey, value: state.jurisdiction },
      ]);
    },
    recordEvent: (e) => (wf.patched(PHASE_EVENTS_LOCAL) ? local.recordEvent(e) : quick.recordEvent(e)),
    async waitUntil(untilMs, wake) {
      const ms = untilMs - Date.now();
      if (wake()) return true;
      if (ms <= 0) return false;
      return wf.condition(wake, ms);
    },
    holdGate: () => wf.condition(() => !state.legalHold || run.draining),
    async heldGate() {
      for (;;) {
        // The same wait as holdGate unless history grows while held, so older histories replay unchanged.
        await wf.condition(() => !state.legalHold || run.draining || (run.rollOver !== undefined && run.shouldRollOver()));
        if (!state.legalHold || run.draining) return;
        if (!wf.patched(ROLL_OVER_WHILE_HELD)) return run.holdGate();
        await run.rollOver!();
      }
    },
    async escalate(reason, ids, message) {
      run.escalating++;
      try {
        await quick.escalate({ requestId: state.requestId, reason, deadline: iso(state.deadlineAt), ...ids, message });
      } finally {
        run.escalating--;
      }
    },
    shouldRollOver() {
      const info = wf.workflowInfo();
      return info.continueAsNewSuggested || (input.continueAsNewAfterEvents !== undefined && info.historyLength >= input.continueAsNewAfterEvents);
    },
  };
  return run;
}
