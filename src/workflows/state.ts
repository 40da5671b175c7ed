/**
 * The request's state and what is derived from it: the initial state of a plan, when a system or the
 * request is done, the status operators see, search attribute values and the `status` query's view.
 * Pure functions of the state: no Temporal calls, so they are unit-tested without a server.
 */
import { deadlineFor, DAY_MS, finalPhases, isOneOf, type DerivedIdentifiers, type ErasureState, type ErasureStatus, type ErasureStatusView, type Receipt, type SystemState } from '../domain';
import type { ErasureInput } from './definitions';

export const iso = (ms: number): string => new Date(ms).toISOString();

/** Builds the initial state from the request's plan. */
export function initialState(input: ErasureInput): ErasureState {
  const received = Date.parse(input.receivedAt);
  const { policy } = input.plan;
  const systems: ErasureState['systems'] = {};
  for (const s of input.plan.systems) {
    systems[s.id] = {
      id: s.id,
      kind: s.kind,
      mode: s.mode,
      status: 'pending',
      attempts: 0,
      verifyRounds: 0,
      remindersSent: 0,
      escalated: false,
      notified: false,
      retryRequested: false,
    };
  }
  const consumers: ErasureState['consumers'] = {};
  for (const c of input.plan.consumers) consumers[c.id] = { id: c.id, critical: c.critical, status: 'waiting' };
  return {
    requestId: input.requestId,
    jurisdiction: policy.jurisdiction,
    phase: 'accepted',
    receivedAt: input.receivedAt,
    deadlineAt: deadlineFor(received, policy),
    graceEndsAt: policy.graceDays > 0 ? received + policy.graceDays * DAY_MS : undefined,
    extended: false,
    overdue: false,
    systems,
    consumers,
    actions: [],
    runs: 1,
  };
}

/**
 * The state a new run starts from: the carried one when continuing as new, else the plan's. The workflow
 * refuses `carried` on a run that does not continue another (erasure-workflow.ts) before calling this.
 */
export function startingState(input: ErasureInput): ErasureState {
  return input.carried ? { ...input.carried, runs: input.carried.runs + 1 } : initialState(input);
}

/** A system is finished when verified, or, for systems that confirm by hand, when confirmed. */
export const isDone = (s: SystemState): boolean => s.status === 'verified' || (s.mode === 'confirmation' && s.status === 'erased');

/** Erased or verified: nothing more to erase (verification may still be due). */
export const isErased = (s: SystemState): boolean => s.status === 'erased' || s.status === 'verified';

/** Completed or cancelled: nothing more happens. */
export const isFinished = (state: ErasureState): boolean => isOneOf(finalPhases, state.phase);

export const systemsOf = (state: ErasureState): SystemState[] => Object.values(state.systems);

/** What ErasureStatus shows: the end, or the side state that most needs eyes, or the phase. */
export function statusOf(state: ErasureState): ErasureStatus {
  if (isFinished(state)) return state.phase;
  if (state.legalHold) return 'on_hold';
  const systems = systemsOf(state);
  if (systems.some((s) => s.status === 'needs_attention')) return 'needs_attention';
  if (state.overdue) return 'overdue';
  if (systems.some((s) => s.paused)) return 'paused';
  if (systems.some((s) => s.status === 'awaiting_confirmation')) return 'awaiting_confirmation';
  return state.phase;
}

/** Ids of the systems not yet done. */
export const pendingSystems = (state: ErasureState): string[] => systemsOf(state).filter((s) => !isDone(s)).map((s) => s.id);

/** The values of the engine's search attributes for this state. */
export function searchAttributeValues(state: ErasureState): { status: ErasureStatus; deadline: number; pending: string[]; overdue: boolean } {
  return {
    status: statusOf(state),
    deadline: state.deadlineAt,
    pending: isFinished(state) ? [] : pendingSystems(state),
    overdue: state.overdue,
  };
}

/** How many values were derived per name, for the status view; `undefined` when none. */
export function derivedCounts(derived: DerivedIdentifiers | undefined): Record<string, number> | undefined {
  const entries = Object.entries(derived ?? {}).filter(([, values]) => values.length > 0);
  return entries.length === 0 ? undefined : Object.fromEntries(entries.map(([name, values]) => [name, values.length]));
}

/** The state's derived identifiers when there are any, for a task or the certificate. */
export function derivedOf(state: ErasureState): DerivedIdentifiers | undefined {
  return derivedCounts(state.derived) === undefined ? undefined : state.derived;
}

/** What the `status` query answers. */
export function statusView(state: ErasureState): ErasureStatusView {
  const systems = systemsOf(state);
  return {
    requestId: state.requestId,
    status: statusOf(state),
    phase: state.phase,
    jurisdiction: state.jurisdiction,
    receivedAt: state.receivedAt,
    deadline: iso(state.deadlineAt),
    overdue: state.overdue,
    extended: state.extended,
    legalHold: state.legalHold,
    systems: systems.map(({ nextReminderAt, retryRequested: _r, resume: _resume, ...s }) => ({
      ...s,
      nextReminderAt: nextReminderAt === undefined ? undefined : iso(nextReminderAt),
    })),
    pendingConfirmations: systems.filter((s) => s.status === 'awaiting_confirmation').map((s) => s.id),
    consumers: Object.values(state.consumers),
    actions: state.actions,
    ...(state.actionsFolded ? { earlierActions: state.actionsFolded } : {}),
    certificateId: state.certificateId,
    derived: derivedCounts(state.derived),
  };
}

/** A failure retrying cannot fix: the system waits for an operator's `retrySystem`. */
export function markNeedsAttention(s: SystemState, message: string): void {
  s.status = 'needs_attention';
  s.lastError = message;
}

/** The fields every receipt shares; the first attempt's start time is kept across rounds. */
export function receiptOf(
  s: SystemState,
  r: Pick<Receipt, 'action' | 'found' | 'erased' | 'evidenceHash' | 'attempts' | 'startedAt' | 'completedAt'> &
    Pick<Partial<Receipt>, 'confirmedBy' | 'attestation' | 'reference' | 'note' | 'details'>,
): Receipt {
  const { action, found, erased, evidenceHash, attempts, startedAt, completedAt, ...extra } = r;
  return {
    systemId: s.id,
    kind: s.kind,
    action,
    found,
    erased,
    remaining: 0,
    evidenceHash,
    attempts,
    startedAt: s.receipt?.startedAt ?? startedAt,
    completedAt,
    ...extra,
  };
}
