/** States and fake runs for the workflow's rule tests: no Temporal server, no workflow sandbox. */
import type { AuditEvent, ErasureActivities } from '../../../src/activities/types';
import type { ErasureState, SystemPlan } from '../../../src/domain';
import type { Run } from '../../../src/workflows/run';
import { initialState } from '../../../src/workflows/state';
import { automated, input, manual, plan, recordingActivities, type Calls } from '../../harness/plans';

export const DAY = 86_400_000;
export const T0 = Date.parse('2026-03-01T00:00:00Z');

/** The initial state of a plan with one automated system `db` and one manual system `billing`. */
export function twoSystems(extra: Partial<SystemPlan> = {}): { state: ErasureState; plans: SystemPlan[] } {
  const plans = [automated('db', extra), manual('billing', extra)];
  return { state: initialState(input(plan(plans), new Date(T0))), plans };
}

/**
 * A run whose activities are recording mocks and whose waits return at once (as if the timer fired),
 * enough to drive one lane step outside a workflow.
 */
export function fakeRun(systems: SystemPlan[], overrides: Partial<ErasureActivities> = {}, opts: { lean?: boolean } = {}): { run: Run; calls: Calls; synced: () => number } {
  const req = input(plan(systems), new Date(T0));
  const state = initialState(req);
  const { activities, calls } = recordingActivities(overrides);
  let syncs = 0;
  const kept: AuditEvent[] = [];
  const run: Run = {
    lean: opts.lean ?? false,
    noteEvent: (e) => {
      kept.push(e);
    },
    flushEvents: async () => {
      if (kept.length > 0) await activities.recordEvents(kept.splice(0));
    },
    takeEvents: () => kept.splice(0),
    syncNow: () => undefined,
    input: req,
    state,
    plan: req.plan,
    policy: req.plan.policy,
    version: 0,
    draining: false,
    escalating: 0,
    quick: activities,
    summaries: true,
    quickAs: () => activities,
    planOf: (id) => systems.find((s) => s.id === id)!,
    long: () => activities,
    stoppable: async (step) => ({ value: await step(activities) }),
    task: (id) => ({
      requestId: req.requestId,
      subject: req.subject,
      subjectRef: req.subjectRef,
      system: systems.find((s) => s.id === id)!,
      ...(state.derived ? { derived: state.derived } : {}),
    }),
    sync: () => {
      syncs++;
    },
    details: () => undefined,
    pauseGate: async (s) => {
      s.paused = undefined;
    },
    recordEvent: (e) => activities.recordEvent(e),
    waitUntil: async (_until, wake) => wake(),
    holdGate: async () => undefined,
    heldGate: async () => undefined,
    escalate: async (reason, ids, message) => activities.escalate({ requestId: state.requestId, reason, deadline: new Date(state.deadlineAt).toISOString(), ...ids, message }),
    shouldRollOver: () => false,
  };
  return { run, calls, synced: () => syncs };
}
