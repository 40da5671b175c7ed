/**
 * One run of the erasure workflow as the lanes see it: its state, its activity proxies, and the few
 * primitives every lane needs (wait until a time or a change, the legal-hold gate, escalation, search
 * attributes). Built once per run by the workflow; lanes receive it instead of closing over locals.
 * `Date.now()` here is the workflow sandbox's deterministic clock.
 */
import * as wf from '@temporalio/workflow';
import type { AuditEvent, ErasureActivities, EscalationReason, SystemTask } from '../activities/types';
import { DAY_MS, nonRetryableFailureTypes, type ErasurePlan, type ErasureState, type JurisdictionPolicy, type SystemPlan, type SystemState } from '../domain';
import {
  ErasureDeadlineKey,
  ErasureJurisdictionKey,
  ErasureOverdueKey,
  ErasurePendingSystemsKey,
  ErasureStatusKey,
  type ErasureInput,
} from './definitions';
import { erasureCurrentDetails } from './details';
import { derivedOf, iso, searchAttributeValues } from './state';

/** Notifications, ledger writes, certificate: short calls that retry until they succeed. */
const quickOptions: wf.ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '30 minutes' },
};
const quick = wf.proxyActivities<ErasureActivities>(quickOptions);

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
/**
 * Patch: a legal hold placed while an erase, soft delete or restore runs cancels it; the connector stops
 * between batches and its last progress resumes the step after the release. Asked only when a hold arrives
 * with such a step in flight, so runs where none did replay without a marker.
 */
export const HOLD_STOPS_WORK = 'hold-stops-work-in-flight';
/**
 * Patch: timers and activities carry summaries for the Web UI ("erase crm", "reminder for billing"). Asked
 * once per run, at its first timer or activity, so a run recorded before keeps its commands exactly as they were.
 */
export const UI_SUMMARIES = 'web-ui-summaries';
/**
 * Patch: a system paused for every request stops its erase in flight, like a legal hold (a verify, which changes
 * nothing, finishes). Asked only when a pause meets an erase in flight.
 */
export const PAUSE_STOPS_WORK = 'pause-stops-work-in-flight';
/**
 * Patch: the lean orchestration. Asked once, at a run's first search-attribute update (its start):
 * - search attributes change once per workflow activation however many state changes it makes;
 * - phase events are kept and written together, one local activity before the next step that writes to the
 *   ledger itself, and the last ones inside the certificate's transaction;
 * - a system whose erase came back with its verification count is verified without an activity.
 * A run recorded before has no marker at its start and keeps its commands exactly as they were.
 */
export const LEAN_ORCHESTRATION = 'lean-orchestration';
/** While paused, a lane looks again this often even if no resume signal reaches it (the ledger decides). */
export const PAUSE_RECHECK_MS = 60 * 60_000;

/** A long step's outcome: its result, or the progress it had made when a legal hold (or a pause) stopped it. */
export type Stoppable<T> = { value: T; stopped?: undefined } | { stopped: true; progress: unknown; by: 'hold' | 'pause' };

export interface StoppableOptions {
  /** Names the activity in the Web UI. */
  summary?: string;
  /** The step's system: a pause of it stops the step too. */
  system?: SystemState;
}

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
  /** Whether timers and activities carry Web UI summaries in this run ({@link UI_SUMMARIES}). */
  readonly summaries: boolean;
  /** {@link quick}, with a summary on the activity when the run writes summaries. */
  quickAs(summary: string): ErasureActivities;
  planOf(id: string): SystemPlan;
  /** Erase/verify calls retry with backoff for days: until the deadline plus a margin. */
  long(summary?: string): ErasureActivities;
  /**
   * Runs a long step (erase, soft delete, restore) that a legal hold stops: when one is placed while it runs,
   * the activity is cancelled and the workflow waits until it has stopped (between batches), then returns
   * its last progress instead of a result. The caller records it with {@link noteStopped} and runs the step
   * again after the release, with `resume` in the task.
   */
  stoppable<T>(step: (activities: ErasureActivities) => Promise<T>, opts?: StoppableOptions): Promise<Stoppable<T>>;
  /** One system's share of the request, as the activities receive it, with the identifiers derived so far. */
  task(id: string): SystemTask;
  /** Whether this run uses the lean orchestration ({@link LEAN_ORCHESTRATION}). */
  readonly lean: boolean;
  /** Upserts the search attributes when they changed (lean: once, at the end of the activation), and refreshes the Web UI's details. */
  sync(): void;
  /** Lean runs: the update {@link sync} has pending, now (before the run completes or hands over). */
  syncNow(): void;
  /** Lean runs: keeps an audit event for the next {@link flushEvents} (or the certificate's transaction). */
  noteEvent(e: AuditEvent): void;
  /** Writes the kept events in one local activity; returns at once when none is kept. */
  flushEvents(): Promise<void>;
  /** Takes the kept events out (they travel with the certificate request). */
  takeEvents(): AuditEvent[];
  /** Refreshes the current details the Web UI shows (./details.ts) when they changed. */
  details(): void;
  recordEvent(e: AuditEvent): Promise<void>;
  /** Waits until `untilMs` or until `wake()` is true; returns whether woken. `summary` names the timer. */
  waitUntil(untilMs: number, wake: () => boolean, summary?: string): Promise<boolean>;
  /**
   * While `s` is paused for every request: waits for the resume (a `systemPause` signal), or looks again after
   * {@link PAUSE_RECHECK_MS}, since the ledger, not the signal, says whether it is still paused.
   */
  pauseGate(s: SystemState): Promise<void>;
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

/** Erase/verify calls retry with backoff for days: until the deadline plus a margin. */
function longActivities(state: ErasureState, policy: JurisdictionPolicy, cancellationType?: wf.ActivityCancellationType, summary?: string): ErasureActivities {
  return wf.proxyActivities<ErasureActivities>({
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '2 minutes',
    scheduleToCloseTimeout: Math.max(state.deadlineAt + policy.retryMarginDays * DAY_MS - Date.now(), DAY_MS),
    retry: {
      initialInterval: '10 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 hour',
      nonRetryableErrorTypes: nonRetryableFailureTypes,
    },
    ...(cancellationType !== undefined ? { cancellationType } : {}),
    ...(summary !== undefined ? { summary } : {}),
  });
}

/**
 * Records that a legal hold stopped `step` on `s`: the progress to resume from, and (for the status) the
 * counts it had reached. Pure.
 */
export function noteStopped(s: SystemState, step: 'erase' | 'softDelete' | 'restore', progress: unknown, nowMs: number): void {
  s.resume = progress ?? undefined;
  const completed: Record<string, number> = {};
  if (progress && typeof progress === 'object') {
    for (const [k, v] of Object.entries(progress)) if (typeof v === 'number' && Number.isFinite(v)) completed[k] = v;
  }
  s.interrupted = { at: iso(nowMs), step, completed };
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
  let lastDetails = '';
  let leanAsked: boolean | undefined;
  const leanOn = () => (leanAsked ??= wf.patched(LEAN_ORCHESTRATION));
  let dirty = false;
  let syncLoop: Promise<never> | undefined;
  const kept: AuditEvent[] = [];
  let flushing: Promise<void> | undefined;
  const upsert = () => {
    run.details();
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
  };
  // Asked at the run's first timer or activity (not when the run is built, which the rule tests do outside a
  // workflow), and remembered: a run recorded before the patch has no marker there and keeps its commands.
  let asked: boolean | undefined;
  const summariesOn = () => (asked ??= wf.patched(UI_SUMMARIES));
  const named = (summary: string | undefined) => (summariesOn() ? summary : undefined);
  const run: Run = {
    input,
    state,
    plan,
    policy,
    version: 0,
    draining: false,
    escalating: 0,
    quick,
    get summaries() {
      return summariesOn();
    },
    quickAs: (summary) => (summariesOn() ? wf.proxyActivities<ErasureActivities>({ ...quickOptions, summary }) : quick),
    planOf: (id) => plans.get(id)!,
    long: (summary) => longActivities(state, policy, undefined, named(summary)),
    async stoppable(step, opts = {}) {
      let settled = false;
      let stoppedBy: 'hold' | 'pause' | undefined;
      const scope = new wf.CancellationScope();
      void wf.condition(() => settled || Boolean(state.legalHold)).then(() => {
        if (settled || stoppedBy || !wf.patched(HOLD_STOPS_WORK)) return;
        stoppedBy = 'hold';
        scope.cancel();
      });
      const { system } = opts;
      if (system) {
        void wf.condition(() => settled || Boolean(system.paused)).then(() => {
          if (settled || stoppedBy || !wf.patched(PAUSE_STOPS_WORK)) return;
          stoppedBy = 'pause';
          scope.cancel();
        });
      }
      try {
        return { value: await scope.run(() => step(longActivities(state, policy, wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED, named(opts.summary)))) };
      } catch (err) {
        if (!stoppedBy || !wf.isCancellation(err)) throw err;
        const cancelled = err instanceof wf.ActivityFailure ? err.cause : err;
        return { stopped: true, by: stoppedBy, progress: cancelled instanceof wf.CancelledFailure ? (cancelled.details[0] ?? undefined) : undefined };
      } finally {
        settled = true;
      }
    },
    task: (id) => {
      const derived = derivedOf(state);
      const resume = state.systems[id]?.resume;
      return {
        requestId: input.requestId,
        subject: input.subject,
        subjectRef: input.subjectRef,
        system: plans.get(id)!,
        ...(derived ? { derived } : {}),
        ...(resume !== undefined ? { resume } : {}),
      };
    },
    get lean() {
      return leanOn();
    },
    sync() {
      if (!leanOn()) return upsert();
      // The state changes of an activation land in one update: the SDK checks blocked conditions only once the
      // activation's code has run as far as it can, so the loop sees them together. (Started while nothing is
      // pending: a condition already true when asked would resolve at once, in the middle of the changes.)
      syncLoop ??= (async () => {
        for (;;) {
          await wf.condition(() => dirty);
          dirty = false;
          upsert();
        }
      })();
      dirty = true;
    },
    syncNow() {
      if (!leanOn() || !dirty) return;
      dirty = false;
      upsert();
    },
    noteEvent: (e) => {
      kept.push(e);
    },
    async flushEvents() {
      while (flushing || kept.length > 0) {
        if (flushing) {
          await flushing;
          continue;
        }
        const batch = kept.splice(0);
        flushing = local.recordEvents(batch).then(
          () => {
            flushing = undefined;
          },
          (err: unknown) => {
            flushing = undefined;
            kept.unshift(...batch);
            throw err;
          },
        );
        await flushing;
      }
    },
    takeEvents: () => kept.splice(0),
    details() {
      // Not a command: the Web UI reads it through the workflow's metadata query, so old runs replay the same.
      const details = erasureCurrentDetails(state, plan, Date.now(), wf.workflowInfo().namespace);
      if (details === lastDetails) return;
      lastDetails = details;
      wf.setCurrentDetails(details);
    },
    recordEvent: (e) => (wf.patched(PHASE_EVENTS_LOCAL) ? local.recordEvent(e) : quick.recordEvent(e)),
    async waitUntil(untilMs, wake, summary) {
      const ms = untilMs - Date.now();
      if (wake()) return true;
      if (ms <= 0) return false;
      return summary && summariesOn() ? wf.condition(wake, ms, { summary }) : wf.condition(wake, ms);
    },
    async pauseGate(s) {
      while (s.paused && !run.draining) {
        const since = s.paused.since;
        const resumed = () => !s.paused || run.draining || s.paused.since !== since;
        if (summariesOn()) await wf.condition(resumed, PAUSE_RECHECK_MS, { summary: `${s.id} paused: look again` });
        else await wf.condition(resumed, PAUSE_RECHECK_MS);
        // Resumed by signal, or time to ask the ledger again (the next attempt does): either way the lane goes on.
        s.paused = undefined;
        run.sync();
      }
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
        // The escalation writes its own event: the phases that led to it come first in the trail.
        await run.flushEvents();
        await run.quickAs(`escalate: ${reason.replace(/_/g, ' ')}`).escalate({ requestId: state.requestId, reason, deadline: iso(state.deadlineAt), ...ids, message });
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
