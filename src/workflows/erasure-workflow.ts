/**
 * One erasure request as one durable workflow: accept → grace period → coordinate consumers → erase →
 * verify → certify, with legal holds, deadline escalation and operator signals on the side.
 *
 * Everything that must survive continue-as-new lives in `state`; every wait is "until an absolute time,
 * or until something changes", so a new run resumes exactly where the old one stopped.
 * `Date.now()` here is the workflow sandbox's deterministic clock.
 */
import * as wf from '@temporalio/workflow';
import type { ZodType } from 'zod';
import type { ErasureActivities, EscalationReason, SystemTask } from '../activities/types';
import { cancelSignal, confirmDeletionSignal, consumerCompletedSignal, ErasureDeadlineKey, ErasureJurisdictionKey, ErasureOverdueKey, ErasurePendingSystemsKey, ErasureStatusKey, extendDeadlineSignal, placeLegalHoldSignal, releaseLegalHoldSignal, retrySystemSignal, statusQuery, type ErasureInput, type ErasureResult, operatorActionUpdate } from './definitions';
import { cancelSchema, confirmDeletionSchema, consumerCompletedSchema, extendDeadlineSchema, placeLegalHoldSchema, releaseLegalHoldSchema, retrySystemSchema, type ErasureState, type ErasureStatus, type ErasureStatusView, type OperatorAction, type OperatorActionResult, type Phase, type OperatorActionName, type Receipt, type SystemPlan, type SystemState } from '../domain';

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

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
    deadlineAt: received + policy.deadlineDays * DAY,
    graceEndsAt: policy.graceDays > 0 ? received + policy.graceDays * DAY : undefined,
    extended: false,
    overdue: false,
    systems,
    consumers,
    actions: [],
    runs: 1,
  };
}

/** A system is finished when verified, or, for systems that confirm by hand, when confirmed. */
const isDone = (s: SystemState) => s.status === 'verified' || (s.mode === 'confirmation' && s.status === 'erased');

/** Erases one data subject from every system in the plan and returns the certificate id. */
export async function erasureWorkflow(input: ErasureInput): Promise<ErasureResult> {
  const { plan } = input;
  const { policy } = plan;
  const state: ErasureState = input.carried ? { ...input.carried, runs: input.carried.runs + 1 } : initialState(input);
  const planOf = new Map<string, SystemPlan>(plan.systems.map((s) => [s.id, s]));
  /** Bumped by every accepted signal so waits can wake on "something changed". */
  let version = 0;
  /** Set when the run should hand over to a new one; lanes stop at their next wait. */
  let draining = false;
  let escalating = 0;

  const finished = () => state.phase === 'completed' || state.phase === 'cancelled';
  const shouldRollOver = () => {
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || (input.continueAsNewAfterEvents !== undefined && info.historyLength >= input.continueAsNewAfterEvents);
  };

  // ----------------------------------------------------------------------------------------------
  // Status and search attributes
  // ----------------------------------------------------------------------------------------------
  const systemsList = () => Object.values(state.systems);
  const status = (): ErasureStatus => {
    if (finished()) return state.phase;
    if (state.legalHold) return 'on_hold';
    if (systemsList().some((s) => s.status === 'needs_attention')) return 'needs_attention';
    if (state.overdue) return 'overdue';
    if (systemsList().some((s) => s.status === 'awaiting_confirmation')) return 'awaiting_confirmation';
    return state.phase;
  };
  const pendingSystems = () => systemsList().filter((s) => !isDone(s)).map((s) => s.id);
  let lastAttributes = '';
  const sync = () => {
    const attrs = {
      status: status(),
      deadline: state.deadlineAt,
      pending: finished() ? [] : pendingSystems(),
      overdue: state.overdue,
    };
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
  const recordEvent = (e: Parameters<ErasureActivities['recordEvent']>[0]) =>
    wf.patched(PHASE_EVENTS_LOCAL) ? local.recordEvent(e) : quick.recordEvent(e);
  const setPhase = async (phase: Phase) => {
    state.phase = phase;
    sync();
    await recordEvent({ requestId: state.requestId, type: `phase.${phase}` });
  };

  // ----------------------------------------------------------------------------------------------
  // Signals: validated here because they arrive as raw JSON from CLIs; a bad one is recorded, never fatal.
  // ----------------------------------------------------------------------------------------------
  const act = (signal: string, accepted: boolean, extra: Omit<OperatorAction, 'at' | 'signal' | 'accepted'> = {}) => {
    state.actions.push({ at: new Date().toISOString(), signal, accepted, ...extra });
  };
  const actions = new Map<string, (raw: unknown) => OperatorActionResult>();
  function handle<T>(signal: OperatorActionName, schema: ZodType<T>, apply: (payload: T) => string | OperatorAction['detail'] | void) {
    const run = (raw: unknown): OperatorActionResult => {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        const reason = `malformed payload (${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')})`;
        act(signal, false, { reason });
        return { accepted: false, reason };
      }
      const by = (parsed.data as { confirmedBy?: string; placedBy?: string; releasedBy?: string }) ?? {};
      const who = by.confirmedBy ?? by.placedBy ?? by.releasedBy;
      const outcome = apply(parsed.data);
      if (typeof outcome === 'string') {
        act(signal, false, { reason: outcome, by: who });
        return { accepted: false, reason: outcome };
      }
      act(signal, true, { by: who, detail: outcome ?? undefined });
      version++;
      sync();
      return { accepted: true };
    };
    actions.set(signal, run);
    return (raw: unknown): void => {
      run(raw);
    };
  }

  wf.setHandler(
    confirmDeletionSignal,
    handle('confirmDeletion', confirmDeletionSchema, (p) => {
      const s = state.systems[p.system];
      if (!s) return `unknown system "${p.system}"`;
      if (s.mode !== 'confirmation') return `system "${p.system}" is erased automatically and takes no confirmation`;
      if (s.status === 'erased') return `system "${p.system}" is already confirmed`;
      if (s.status !== 'awaiting_confirmation') return `system "${p.system}" is not awaiting confirmation (${s.status})`;
      const now = new Date().toISOString();
      s.status = 'erased';
      s.receipt = {
        systemId: s.id,
        kind: s.kind,
        action: 'confirmed',
        found: 0,
        erased: 0,
        remaining: 0,
        evidenceHash: '',
        attempts: s.remindersSent + 1,
        startedAt: s.receipt?.startedAt ?? now,
        completedAt: now,
        confirmedBy: p.confirmedBy,
        reference: p.reference,
        note: p.note,
      };
      return { system: p.system, reference: p.reference };
    }),
  );
  wf.setHandler(
    consumerCompletedSignal,
    handle('consumerCompleted', consumerCompletedSchema, (p) => {
      const c = state.consumers[p.consumer];
      if (!c) return `unknown consumer "${p.consumer}"`;
      if (c.status !== 'waiting' && c.status !== 'escalated') return `consumer "${p.consumer}" already reported (${c.status})`;
      c.status = p.status;
      c.note = p.note;
      c.reportedAt = new Date().toISOString();
      return { consumer: p.consumer, status: p.status };
    }),
  );
  wf.setHandler(
    placeLegalHoldSignal,
    handle('placeLegalHold', placeLegalHoldSchema, (p) => {
      if (finished()) return `the request is ${state.phase}`;
      if (state.legalHold) return 'a legal hold is already in place';
      state.legalHold = { reason: p.reason, placedBy: p.placedBy, since: new Date().toISOString() };
      return { reason: p.reason };
    }),
  );
  wf.setHandler(
    releaseLegalHoldSignal,
    handle('releaseLegalHold', releaseLegalHoldSchema, () => {
      if (!state.legalHold) return 'no legal hold is in place';
      state.legalHold = undefined;
    }),
  );
  wf.setHandler(
    extendDeadlineSignal,
    handle('extendDeadline', extendDeadlineSchema, (p) => {
      if (finished()) return `the request is ${state.phase}`;
      if (policy.maxExtensionDays <= 0) return `${policy.jurisdiction} allows no extension`;
      if (state.extended) return 'the deadline was already extended once';
      if (p.days > policy.maxExtensionDays) return `at most ${policy.maxExtensionDays} days may be added under ${policy.jurisdiction}`;
      const from = state.deadlineAt;
      state.deadlineAt += p.days * DAY;
      state.extended = true;
      if (state.overdue && state.deadlineAt > Date.now()) state.overdue = false;
      return { days: p.days, reason: p.reason, from: iso(from), to: iso(state.deadlineAt) };
    }),
  );
  wf.setHandler(
    cancelSignal,
    handle('cancel', cancelSchema, (p) => {
      if (state.phase !== 'accepted' && state.phase !== 'grace_period') {
        return `cancel is only possible during the grace period (the request is ${state.phase})`;
      }
      if (state.cancelRequested) return 'already cancelled';
      state.cancelRequested = { reason: p.reason };
      return { reason: p.reason };
    }),
  );
  wf.setHandler(
    retrySystemSignal,
    handle('retrySystem', retrySystemSchema, (p) => {
      const s = state.systems[p.system];
      if (!s) return `unknown system "${p.system}"`;
      if (s.status !== 'needs_attention') return `system "${p.system}" does not need attention (${s.status})`;
      s.retryRequested = true;
      return { system: p.system };
    }),
  );
  wf.setHandler(operatorActionUpdate, ({ signal, payload }) => {
    const run = actions.get(signal);
    if (!run) return { accepted: false, reason: `unknown action "${String(signal)}"` };
    return run(payload);
  });
  wf.setHandler(statusQuery, (): ErasureStatusView => ({
    requestId: state.requestId,
    status: status(),
    phase: state.phase,
    jurisdiction: state.jurisdiction,
    receivedAt: state.receivedAt,
    deadline: iso(state.deadlineAt),
    overdue: state.overdue,
    extended: state.extended,
    legalHold: state.legalHold,
    systems: systemsList().map(({ nextReminderAt, retryRequested: _r, ...s }) => ({
      ...s,
      nextReminderAt: nextReminderAt === undefined ? undefined : iso(nextReminderAt),
    })),
    pendingConfirmations: systemsList().filter((s) => s.status === 'awaiting_confirmation').map((s) => s.id),
    consumers: Object.values(state.consumers),
    actions: state.actions,
    certificateId: state.certificateId,
  }));

  // ----------------------------------------------------------------------------------------------
  // Helpers for waiting and for calling activities
  // ----------------------------------------------------------------------------------------------

  /** Waits until `untilMs` or until `wake()` is true; returns whether woken. */
  const waitUntil = async (untilMs: number, wake: () => boolean): Promise<boolean> => {
    const ms = untilMs - Date.now();
    if (wake()) return true;
    if (ms <= 0) return false;
    return wf.condition(wake, ms);
  };
  /** Legal hold: nothing is erased while one is in place. */
  const holdGate = () => wf.condition(() => !state.legalHold || draining);
  const task = (id: string): SystemTask => ({
    requestId: input.requestId,
    subject: input.subject,
    subjectRef: input.subjectRef,
    system: planOf.get(id)!,
  });
  /** Erase/verify calls retry with backoff for days: until the deadline plus a margin. */
  const long = () =>
    wf.proxyActivities<ErasureActivities>({
      startToCloseTimeout: '2 hours',
      heartbeatTimeout: '2 minutes',
      scheduleToCloseTimeout: Math.max(state.deadlineAt + policy.retryMarginDays * DAY - Date.now(), DAY),
      retry: {
        initialInterval: '10 seconds',
        backoffCoefficient: 2,
        maximumInterval: '1 hour',
        nonRetryableErrorTypes: ['NonRetryableConnectorError', 'ConfigurationError'],
      },
    });
  const escalate = async (reason: EscalationReason, ids: { systemIds?: string[]; consumerIds?: string[] }, message?: string) => {
    escalating++;
    try {
      await quick.escalate({ requestId: state.requestId, reason, deadline: iso(state.deadlineAt), ...ids, message });
    } finally {
      escalating--;
    }
  };
  const describe = (err: unknown): string => {
    if (err instanceof wf.ActivityFailure && err.cause) return err.cause.message;
    return err instanceof Error ? err.message : String(err);
  };
  const rollOver = async (): Promise<never> => {
    await wf.condition(() => escalating === 0 && wf.allHandlersFinished());
    return wf.continueAsNew<typeof erasureWorkflow>({ ...input, carried: state });
  };

  // ----------------------------------------------------------------------------------------------
  // Deadline: overdue and escalation, concurrently with everything else
  // ----------------------------------------------------------------------------------------------
  const watchDeadline = async () => {
    while (!finished()) {
      const deadline = state.deadlineAt;
      if (!state.overdue && deadline > Date.now()) {
        await wf.condition(() => finished() || state.deadlineAt !== deadline, deadline - Date.now());
        continue;
      }
      if (!state.overdue) {
        state.overdue = true;
        sync();
        await escalate('overdue', { systemIds: pendingSystems() }, 'the legal deadline has passed with work outstanding');
      }
      await wf.condition(() => finished() || !state.overdue);
    }
  };

  // ----------------------------------------------------------------------------------------------
  // Phases
  // ----------------------------------------------------------------------------------------------
  const gracePeriod = async (): Promise<'cancelled' | 'continue'> => {
    for (const s of systemsList()) {
      const p = planOf.get(s.id)!;
      if (!p.softDelete || s.status !== 'pending' || state.cancelRequested) continue;
      await holdGate();
      await long().softDeleteSystem(task(s.id));
      s.status = 'soft_deleted';
    }
    sync();
    while (!state.cancelRequested && Date.now() < (state.graceEndsAt ?? 0)) {
      if (shouldRollOver()) await rollOver();
      await waitUntil(state.graceEndsAt ?? 0, () => Boolean(state.cancelRequested) || shouldRollOver());
    }
    if (state.cancelRequested) {
      for (const s of systemsList()) {
        if (s.status !== 'soft_deleted') continue;
        await long().restoreSystem(task(s.id));
        s.status = 'pending';
      }
      return 'cancelled';
    }
    return 'continue';
  };

  const coordinate = async () => {
    const consumers = Object.values(state.consumers);
    if (consumers.length === 0) return;
    if (consumers.every((c) => c.timeoutAt === undefined)) {
      await quick.announceToConsumers({
        requestId: state.requestId,
        subjectRef: input.subjectRef,
        consumers: consumers.map((c) => c.id),
        deadline: iso(state.deadlineAt),
      });
      const now = Date.now();
      for (const c of plan.consumers) state.consumers[c.id].timeoutAt = now + c.timeoutDays * DAY;
    }
    for (;;) {
      const waiting = consumers.filter((c) => c.status === 'waiting');
      const now = Date.now();
      for (const c of waiting.filter((w) => (w.timeoutAt ?? Infinity) <= now)) {
        if (c.critical) {
          c.status = 'escalated';
          await escalate('critical_consumer_timeout', { consumerIds: [c.id] }, `critical consumer "${c.id}" has not completed`);
        } else {
          c.status = 'skipped';
          c.note = 'timed out';
        }
      }
      if (consumers.every((c) => c.status !== 'waiting' && c.status !== 'escalated')) return;
      if (shouldRollOver()) await rollOver();
      const next = Math.min(...consumers.filter((c) => c.status === 'waiting').map((c) => c.timeoutAt ?? Infinity));
      const seen = version;
      if (Number.isFinite(next)) await waitUntil(next, () => version !== seen || shouldRollOver());
      else await wf.condition(() => version !== seen || shouldRollOver());
    }
  };

  /** One system's way to "erased": automated erase with retries, or waiting for a confirmation. */
  const runLane = async (s: SystemState): Promise<void> => {
    const p = planOf.get(s.id)!;
    await wf.condition(() => draining || p.dependsOn.every((d) => !state.systems[d] || isDone(state.systems[d]) || state.systems[d].status === 'erased'));
    while (!draining && s.status !== 'erased' && s.status !== 'verified') {
      if (s.status === 'needs_attention') {
        await wf.condition(() => s.retryRequested || draining);
        if (draining) return;
        s.retryRequested = false;
        s.lastError = undefined;
        s.status = 'pending';
        sync();
        continue;
      }
      if (p.mode === 'automated') {
        await holdGate();
        if (draining) return;
        s.status = 'erasing';
        s.attempts++;
        const startedAt = new Date().toISOString();
        sync();
        try {
          const r = await long().eraseSystem(task(s.id));
          s.receipt = {
            systemId: s.id,
            kind: s.kind,
            action: r.action,
            found: (s.receipt?.found ?? 0) + r.found,
            erased: (s.receipt?.erased ?? 0) + r.erased,
            remaining: 0,
            evidenceHash: r.evidenceHash,
            attempts: s.attempts,
            startedAt: s.receipt?.startedAt ?? startedAt,
            completedAt: new Date().toISOString(),
            details: r.details,
          };
          s.status = 'erased';
        } catch (err) {
          if (err instanceof wf.CancelledFailure) throw err;
          s.status = 'needs_attention';
          s.lastError = describe(err);
          sync();
          await escalate('needs_attention', { systemIds: [s.id] }, s.lastError);
        }
        sync();
        continue;
      }
      // Confirmation mode: notify once, then remind on schedule and escalate near the deadline.
      if (s.status === 'pending' || s.status === 'soft_deleted') {
        await holdGate();
        if (draining) return;
        if (p.notify && !s.notified) {
          try {
            await quick.notifySystem(task(s.id));
          } catch (err) {
            if (err instanceof wf.CancelledFailure) throw err;
            s.status = 'needs_attention';
            s.lastError = describe(err);
            sync();
            continue;
          }
        }
        s.notified = true;
        s.status = 'awaiting_confirmation';
        s.nextReminderAt = Date.now() + (p.reminderEveryDays ?? policy.reminderEveryDays) * DAY;
        s.receipt = undefined;
        sync();
      }
      const escalateAt = state.deadlineAt - policy.escalateBeforeDays * DAY;
      const next = Math.min(s.nextReminderAt ?? Infinity, s.escalated ? Infinity : escalateAt);
      const seenDeadline = state.deadlineAt;
      await waitUntil(next, () => s.status !== 'awaiting_confirmation' || draining || state.deadlineAt !== seenDeadline);
      if (s.status !== 'awaiting_confirmation' || draining) continue;
      const now = Date.now();
      if (s.nextReminderAt !== undefined && now >= s.nextReminderAt && !state.legalHold) {
        s.remindersSent++;
        s.nextReminderAt += (p.reminderEveryDays ?? policy.reminderEveryDays) * DAY;
        await quick.sendReminder({
          requestId: state.requestId,
          systemId: s.id,
          owner: typeof p.spec.owner === 'string' ? p.spec.owner : undefined,
          remindersSent: s.remindersSent,
          deadline: iso(state.deadlineAt),
        });
      } else if (s.nextReminderAt !== undefined && now >= s.nextReminderAt) {
        s.nextReminderAt += (p.reminderEveryDays ?? policy.reminderEveryDays) * DAY;
      }
      if (!s.escalated && now >= state.deadlineAt - policy.escalateBeforeDays * DAY) {
        s.escalated = true;
        await escalate('confirmation_due', { systemIds: [s.id] }, `system "${s.id}" has not confirmed erasure`);
      }
    }
  };

  /** Runs every system's lane; hands over to a new run when history grows too long. */
  const eraseAll = async () => {
    const lanes = systemsList().filter((s) => s.status !== 'erased' && s.status !== 'verified').map(runLane);
    let settled = false;
    const all = Promise.all(lanes).then(() => {
      settled = true;
    });
    await wf.condition(() => settled || shouldRollOver());
    if (!settled) {
      draining = true;
      await all;
      await rollOver();
    }
  };

  const verifyAll = async () => {
    await Promise.all(
      systemsList()
        .filter((s) => s.mode === 'automated' && s.status === 'erased')
        .map(async (s) => {
          await holdGate();
          const { remaining } = await long().verifySystem(task(s.id));
          if (s.receipt) s.receipt.remaining = remaining;
          if (remaining === 0) {
            s.status = 'verified';
          } else if (s.verifyRounds + 1 < policy.maxVerifyRounds) {
            s.verifyRounds++;
            s.status = 'pending';
          } else {
            s.verifyRounds++;
            s.status = 'needs_attention';
            s.lastError = `${remaining} item(s) remain after ${s.verifyRounds} verification round(s)`;
            await escalate('needs_attention', { systemIds: [s.id] }, s.lastError);
          }
        }),
    );
    sync();
  };

  // ----------------------------------------------------------------------------------------------
  // The run
  // ----------------------------------------------------------------------------------------------
  sync();
  void watchDeadline();

  if (state.phase === 'accepted') {
    await recordEvent({ requestId: state.requestId, type: 'accepted', detail: { deadline: iso(state.deadlineAt) } });
    await setPhase(state.graceEndsAt !== undefined ? 'grace_period' : 'coordinating');
  }
  if (state.phase === 'grace_period') {
    if ((await gracePeriod()) === 'cancelled') {
      await setPhase('cancelled');
      return { status: 'cancelled', receipts: [] };
    }
    await setPhase('coordinating');
  }
  if (state.phase === 'coordinating') {
    await coordinate();
    await setPhase('erasing');
  }
  while (!systemsList().every(isDone)) {
    if (state.phase !== 'erasing') await setPhase('erasing');
    await eraseAll();
    await setPhase('verifying');
    await verifyAll();
  }

  await holdGate();
  await setPhase('certifying');
  const receipts: Receipt[] = systemsList().map((s) => s.receipt!);
  const info = wf.workflowInfo();
  const { certificateId } = await quick.issueCertificate({
    requestId: state.requestId,
    workflowId: info.workflowId,
    runId: info.runId,
    firstRunId: info.firstExecutionRunId,
    subject: input.subject,
    jurisdiction: state.jurisdiction,
    receivedAt: state.receivedAt,
    deadline: iso(state.deadlineAt),
    extended: state.extended,
    completedAt: new Date().toISOString(),
    receipts,
    consumers: Object.values(state.consumers),
    actions: state.actions,
  });
  state.certificateId = certificateId;
  await setPhase('completed');
  return { status: 'completed', certificateId, receipts };
}
