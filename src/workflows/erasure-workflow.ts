/**
 * One erasure request as one durable workflow: accept → grace period → coordinate consumers → erase →
 * verify → certify, with legal holds, deadline escalation and operator signals on the side.
 *
 * This file is the orchestration: handler registration, the phases in order and continue-as-new. The
 * rules live beside it (state.ts, signal-rules.ts, automated-lane.ts, confirmation-lane.ts,
 * deadline-watcher.ts) and are unit-tested without a server.
 *
 * Everything that must survive continue-as-new lives in `state`; every wait is "until an absolute time,
 * or until something changes", so a new run resumes exactly where the old one stopped.
 * `Date.now()` here is the workflow sandbox's deterministic clock.
 */
import * as wf from '@temporalio/workflow';
import type { AuditEvent } from '../activities/types';
import { auditEventTypes, DAY_MS, failureTypes, phaseEventType, type Phase, type Receipt, type SystemState } from '../domain';
import { actionsWritten, readyForHandOver, recordActions, trimForHandOver } from './action-log';
import { dependenciesErased, eraseOnce, resetForRetry, verifyOnce } from './automated-lane';
import { awaitConfirmation, requestConfirmation } from './confirmation-lane';
import { recordExtension, watchDeadline } from './deadline-watcher';
import {
  cancelSignal,
  confirmDeletionSignal,
  consumerCompletedSignal,
  extendDeadlineSignal,
  operatorActionUpdate,
  placeLegalHoldSignal,
  releaseLegalHoldSignal,
  retrySystemSignal,
  statusQuery,
  systemPauseSignal,
  type ErasureInput,
  type ErasureResult,
} from './definitions';
import { DERIVE_IDENTIFIERS, identifyLane, needsIdentify } from './identities';
import { createRun, HOLD_STOPS_WORK, noteStopped, type Run } from './run';
import { applyOperatorAction, applyPauseNotice } from './signal-rules';
import { derivedOf, isDone, isErased, isFinished, iso, startingState, statusView, systemsOf } from './state';

/** Erases one data subject from every system in the plan and returns the certificate id. */
export async function erasureWorkflow(input: ErasureInput): Promise<ErasureResult> {
  refuseUnsealedInput(input);
  refuseCarriedOnFirstRun(input);
  const state = startingState(input);
  const run = createRun(input, state);
  run.rollOver = () => rollOver(run);
  registerHandlers(run);

  // Lean runs keep phase events and write them together before the next step that writes to the ledger.
  const record = async (e: AuditEvent) => (run.lean ? run.noteEvent(e) : run.recordEvent(e));
  const setPhase = async (phase: Phase) => {
    state.phase = phase;
    run.sync();
    await record({ requestId: state.requestId, type: phaseEventType(phase) });
  };

  run.sync();
  void watchDeadline(run);
  void recordExtension(run);
  void recordActions(run);

  if (state.phase === 'accepted') {
    await record({ requestId: state.requestId, type: auditEventTypes.accepted, detail: { deadline: iso(state.deadlineAt) } });
    await setPhase(state.graceEndsAt !== undefined ? 'grace_period' : 'coordinating');
  }
  if (state.phase === 'grace_period') {
    await run.flushEvents();
    if ((await gracePeriod(run)) === 'cancelled') {
      await setPhase('cancelled');
      await run.flushEvents();
      await actionsWritten(run);
      run.syncNow();
      return { status: 'cancelled', receipts: [] };
    }
    await setPhase('coordinating');
  }
  if (state.phase === 'coordinating') {
    await coordinate(run);
    await setPhase('erasing');
  }
  while (!systemsOf(state).every(isDone)) {
    if (state.phase !== 'erasing') await setPhase('erasing');
    await run.flushEvents();
    await identifyAll(run);
    await eraseAll(run);
    await setPhase('verifying');
    await verifyAll(run);
  }

  await run.heldGate();
  await setPhase('certifying');
  const receipts: Receipt[] = systemsOf(state).map((s) => s.receipt!);
  const info = wf.workflowInfo();
  const derived = derivedOf(state);
  // Lean runs: the phases not yet written go in the certificate's transaction, `completed` right after it.
  const events = run.lean ? { before: run.takeEvents(), after: [{ requestId: state.requestId, type: phaseEventType('completed') }] } : undefined;
  const issue = run.quickAs('issue the certificate').issueCertificate({
    requestId: state.requestId,
    workflowId: info.workflowId,
    runId: info.runId,
    firstRunId: info.firstExecutionRunId,
    subject: input.subject,
    ...(derived ? { derived } : {}),
    jurisdiction: state.jurisdiction,
    receivedAt: state.receivedAt,
    deadline: iso(state.deadlineAt),
    extended: state.extended,
    completedAt: new Date().toISOString(),
    receipts,
    consumers: Object.values(state.consumers),
    actions: state.actions,
    ...(events ? { events } : {}),
  });
  // A certificate refused for good fails the run: the phases that led there are written first.
  const { certificateId } = await issue.catch(async (err: unknown) => {
    for (const e of events?.before ?? []) run.noteEvent(e);
    await run.flushEvents();
    throw err;
  });
  state.certificateId = certificateId;
  if (events) {
    state.phase = 'completed';
    run.sync();
  } else await setPhase('completed');
  await actionsWritten(run);
  run.syncNow();
  return { status: 'completed', certificateId, receipts };
}

/**
 * An input the worker's codec refused (plain JSON naming a subject or a plan: not sealed by the engine, so
 * not started by its intake) arrives as a marker carrying nothing of the original. The run fails at once,
 * non-retryable, having done nothing. No recorded run has such an input, so no patch is needed.
 */
function refuseUnsealedInput(input: ErasureInput): void {
  if ((input as unknown as { refused?: unknown }).refused !== 'unsealed') return;
  throw wf.ApplicationFailure.create({
    type: failureTypes.unsealedInput,
    message: "the workflow input was not sealed by the engine's codec (started by hand?): nothing was done; start erasures through the intake (POST /erasures)",
    nonRetryable: true,
  });
}

/** Patch: a first run started with `carried` state fails instead of adopting it. */
export const CARRIED_ONLY_WHEN_CONTINUED = 'carried-only-when-continued';

/**
 * `carried` is how a run hands its state to the next one (continue-as-new); the engine never starts a
 * first run with it. A run started by hand with `carried` (say, every system already "verified") would
 * skip straight to a certificate, so it fails at once, non-retryable, and does nothing. Guarded by a patch
 * so that such a run, if one is open, still replays as it ran.
 */
function refuseCarriedOnFirstRun(input: ErasureInput): void {
  if (input.carried === undefined || wf.workflowInfo().continuedFromExecutionRunId !== undefined) return;
  if (!wf.patched(CARRIED_ONLY_WHEN_CONTINUED)) return;
  throw wf.ApplicationFailure.create({
    type: failureTypes.carriedStateRefused,
    message: 'carried state is accepted only by a run that continues an erasure as new; start erasures through the intake (POST /erasures)',
    nonRetryable: true,
  });
}

/**
 * Signals, the operatorAction update and the status query. Signal payloads are validated by the rules
 * because they arrive as raw JSON from CLIs; a bad one is recorded as refused, never fatal.
 */
function registerHandlers(run: Run): void {
  const apply = (signal: string, raw: unknown, claim?: unknown) => {
    const result = applyOperatorAction({ state: run.state, policy: run.policy, now: Date.now() }, signal, raw, claim);
    if (result.accepted) {
      run.version++;
      run.sync();
    }
    return result;
  };
  const signals = [
    confirmDeletionSignal,
    consumerCompletedSignal,
    placeLegalHoldSignal,
    releaseLegalHoldSignal,
    extendDeadlineSignal,
    cancelSignal,
    retrySystemSignal,
  ] as const;
  for (const signal of signals) {
    wf.setHandler(signal as wf.SignalDefinition<[unknown]>, (raw: unknown) => {
      const { payload, claim } = claimOfSignal(raw);
      apply(signal.name, payload, claim);
    });
  }
  wf.setHandler(operatorActionUpdate, ({ signal, payload, actor }) => apply(signal, payload, actor));
  wf.setHandler(systemPauseSignal, (raw: unknown) => {
    if (applyPauseNotice(run.state, raw, Date.now())) {
      run.version++;
      run.sync();
    }
  });
  wf.setHandler(statusQuery, () => statusView(run.state));
}

/** Patch: a signal's payload may carry the API's claim (a bulk action sent through a Temporal batch operation). */
export const SIGNAL_CLAIMS = 'signal-claims';

/**
 * Splits a signal's payload from the claim it carries in its `claim` field: the way a bulk action, sent as one
 * batch signal to many workflows, says who sent it. The claim is kept unchecked, like the update's; the ledger
 * writer and the certificate issuer decide whether it verifies. Asked only when a signal carries a claim, so
 * runs without one replay as they ran (before this, such a payload was refused as malformed).
 */
function claimOfSignal(raw: unknown): { payload: unknown; claim?: unknown } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !Object.hasOwn(raw, 'claim')) return { payload: raw };
  if (!wf.patched(SIGNAL_CLAIMS)) return { payload: raw };
  const { claim, ...payload } = raw as Record<string, unknown>;
  return { payload, claim };
}

/** Hands the state to a new run once in-flight escalations and handlers are done. */
async function rollOver(run: Run): Promise<never> {
  await run.flushEvents();
  await wf.condition(() => run.escalating === 0 && wf.allHandlersFinished());
  // Synchronous unless the recorder lags, so runs that never queue hand over exactly as before.
  if (!readyForHandOver(run)) await wf.condition(() => readyForHandOver(run), '1 minute');
  trimForHandOver(run.state);
  run.syncNow();
  return wf.continueAsNew<typeof erasureWorkflow>({ ...run.input, carried: run.state });
}

/** Soft-deletes where supported, waits out the grace period, and restores everything on cancel. */
async function gracePeriod(run: Run): Promise<'cancelled' | 'continue'> {
  const { state } = run;
  for (const s of systemsOf(state)) {
    if (!run.planOf(s.id).softDelete || s.status !== 'pending' || state.cancelRequested) continue;
    for (;;) {
      await run.heldGate();
      const r = await run.stoppable((a) => a.softDeleteSystem(run.task(s.id)), { summary: `soft-delete ${s.id}` });
      if (!r.stopped) break;
      noteStopped(s, 'softDelete', r.progress, Date.now());
      run.sync();
    }
    s.resume = undefined;
    s.status = 'soft_deleted';
  }
  run.sync();
  while (!state.cancelRequested && Date.now() < (state.graceEndsAt ?? 0)) {
    if (run.shouldRollOver()) await rollOver(run);
    await run.waitUntil(state.graceEndsAt ?? 0, () => Boolean(state.cancelRequested) || run.shouldRollOver(), 'grace period ends');
  }
  if (!state.cancelRequested) return 'continue';
  for (const s of systemsOf(state)) {
    if (s.status !== 'soft_deleted') continue;
    for (;;) {
      // Restoring is changing data too: a hold in place waits (asked only then, so older runs replay as they ran).
      if (state.legalHold && wf.patched(HOLD_STOPS_WORK)) await run.heldGate();
      const r = await run.stoppable((a) => a.restoreSystem(run.task(s.id)), { summary: `restore ${s.id}` });
      if (!r.stopped) break;
      noteStopped(s, 'restore', r.progress, Date.now());
      run.sync();
    }
    s.resume = undefined;
    s.status = 'pending';
  }
  return 'cancelled';
}

/** Patch: the consumer announcement carries the subject, for consumers that are given identifiers. */
export const ANNOUNCE_WITH_SUBJECT = 'announce-with-subject';

/** Announces the request to consumers and waits for each to report or time out. */
async function coordinate(run: Run): Promise<void> {
  const { state } = run;
  const consumers = Object.values(state.consumers);
  if (consumers.length === 0) return;
  if (consumers.every((c) => c.timeoutAt === undefined)) {
    await run.flushEvents();
    // The subject goes along (encrypted, like every task) for consumers whose catalog entry asks for
    // identifiers; guarded, so runs announced before replay with the announcement they sent.
    const subject = wf.patched(ANNOUNCE_WITH_SUBJECT) ? { subject: run.input.subject } : {};
    await run.quickAs('announce to consumers').announceToConsumers({
      requestId: state.requestId,
      subjectRef: run.input.subjectRef,
      consumers: consumers.map((c) => c.id),
      deadline: iso(state.deadlineAt),
      ...subject,
    });
    const now = Date.now();
    for (const c of run.plan.consumers) state.consumers[c.id].timeoutAt = now + c.timeoutDays * DAY_MS;
  }
  for (;;) {
    const now = Date.now();
    for (const c of consumers.filter((w) => w.status === 'waiting' && (w.timeoutAt ?? Infinity) <= now)) {
      if (c.critical) {
        c.status = 'escalated';
        await run.escalate('critical_consumer_timeout', { consumerIds: [c.id] }, `critical consumer "${c.id}" has not completed`);
      } else {
        c.status = 'skipped';
        c.note = 'timed out';
      }
    }
    if (consumers.every((c) => c.status !== 'waiting' && c.status !== 'escalated')) return;
    if (run.shouldRollOver()) await rollOver(run);
    const next = Math.min(...consumers.filter((c) => c.status === 'waiting').map((c) => c.timeoutAt ?? Infinity));
    const seen = run.version;
    if (Number.isFinite(next)) await run.waitUntil(next, () => run.version !== seen || run.shouldRollOver(), 'consumer timeout');
    else await wf.condition(() => run.version !== seen || run.shouldRollOver());
  }
}

/** One system's way to "erased": automated erase with retries, or waiting for a confirmation. */
async function runLane(run: Run, s: SystemState): Promise<void> {
  const p = run.planOf(s.id);
  await wf.condition(() => run.draining || dependenciesErased(run.state, p));
  while (!run.draining && !isErased(s)) {
    if (s.status === 'needs_attention') {
      await wf.condition(() => s.retryRequested || run.draining);
      if (run.draining) return;
      resetForRetry(s);
      run.sync();
    } else if (p.mode === 'automated') {
      await run.holdGate();
      if (run.draining) return;
      await eraseOnce(run, s);
    } else {
      if (s.status === 'pending' || s.status === 'soft_deleted') {
        const requested = await requestConfirmation(run, s, p);
        if (requested === 'draining') return;
        if (requested === 'failed') continue;
      }
      await awaitConfirmation(run, s, p);
    }
  }
}

/**
 * Before the first erase: asks every system that provides identifiers the request lacks (legal-hold gate
 * first; an operator's `retrySystem` re-asks one that failed). Nothing is erased until every one has answered.
 */
async function identifyAll(run: Run): Promise<void> {
  const providers = systemsOf(run.state).filter((s) => needsIdentify(run.input.subject, run.planOf(s.id), s));
  // Plans without a provider schedule nothing new, so the marker is written only where the step runs.
  if (providers.length === 0 || !wf.patched(DERIVE_IDENTIFIERS)) return;
  await settleOrRollOver(run, providers.map((s) => identifyLane(run, s)));
}

/** Runs every system's lane; hands over to a new run when history grows too long. */
async function eraseAll(run: Run): Promise<void> {
  await settleOrRollOver(run, systemsOf(run.state).filter((s) => !isErased(s)).map((s) => runLane(run, s)));
}

/** Waits for every lane; when history grows too long first, drains them and hands over to a new run. */
async function settleOrRollOver(run: Run, lanes: Promise<void>[]): Promise<void> {
  let settled = false;
  const all = Promise.all(lanes).then(() => {
    settled = true;
  });
  await wf.condition(() => settled || run.shouldRollOver());
  if (!settled) {
    run.draining = true;
    await all;
    await rollOver(run);
  }
}

/** Re-checks every erased automated system; any with data left goes back to erase. */
async function verifyAll(run: Run): Promise<void> {
  await Promise.all(systemsOf(run.state).filter((s) => s.mode === 'automated' && s.status === 'erased').map((s) => verifyOnce(run, s)));
  run.sync();
}
