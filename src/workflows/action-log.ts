/**
 * The operator-action log, bounded. Anyone who can reach Temporal can send signals, and each one, good or
 * bad, is recorded; kept whole in the workflow state, a flood of them would grow the state (and the
 * continue-as-new input that carries it) past Temporal's payload limit and wedge the request. So the state
 * keeps only the latest {@link KEPT_ACTIONS} (refused ones give way first) and counts the rest per signal,
 * while every action also goes to the ledger's audit trail, in batches, where the full list stays.
 *
 * `appendAction` is pure (used by the signal rules); `recordActions` is the coroutine that writes the
 * batches, guarded by the patch {@link ACTIONS_IN_LEDGER}.
 */
import * as wf from '@temporalio/workflow';
import { auditEventTypes, type ErasureState, type OperatorAction, type OperatorActionEntry } from '../domain';
import type { Run } from './run';

/** Actions the state keeps; older ones are folded into per-signal counts. */
export const KEPT_ACTIONS = 50;
/** Ledger entries a run may hand over to the next one; beyond it the oldest are counted as dropped. */
export const UNRECORDED_ACTIONS = 200;
/** Ledger entries one run holds in memory while the audit trail is unreachable. */
export const QUEUED_ACTIONS_LIMIT = 10_000;
/** Entries written per audit event. */
export const ACTIONS_PER_EVENT = 100;
/** Patch: operator actions are written to the ledger (runs from before it record none). */
export const ACTIONS_IN_LEDGER = 'operator-actions-in-ledger';

/** The ledger's form of an action: structured fields only, never the operator's free text. */
export function ledgerEntry(a: OperatorAction & { seq: number }): OperatorActionEntry {
  const d = a.detail ?? {};
  const entry: OperatorActionEntry = { n: a.seq, at: a.at, signal: a.signal, accepted: a.accepted };
  if (a.by !== undefined) entry.by = a.by;
  if (a.reason !== undefined) entry.reason = a.reason;
  if (typeof d.system === 'string') entry.system = d.system;
  if (typeof d.consumer === 'string') entry.consumer = d.consumer;
  if (typeof d.status === 'string') entry.status = d.status;
  if (typeof d.days === 'number') entry.days = d.days;
  if (a.attestation !== undefined) entry.attestation = a.attestation;
  return entry;
}

/**
 * Records one action: numbers it, keeps it in `state.actions` within the bound (folding the oldest refused
 * one, else the oldest, into `state.actionsFolded`) and queues its ledger entry.
 * @example appendAction(state, { at: iso(now), signal: 'cancel', accepted: false, reason: 'already cancelled' });
 */
export function appendAction(state: ErasureState, action: OperatorAction): OperatorAction {
  // States carried from before the bound kept every action, so their count is the length of the list.
  const seq = (state.actionsSeen ?? state.actions.length) + 1;
  state.actionsSeen = seq;
  const recorded = { ...action, seq };
  state.actions.push(recorded);
  while (state.actions.length > KEPT_ACTIONS) {
    // The newest action always stays visible, so a refused signal's reason can be read in `status`.
    const refused = state.actions.slice(0, -1).findIndex((a) => !a.accepted);
    const [gone] = state.actions.splice(refused >= 0 ? refused : 0, 1);
    const folded = (state.actionsFolded ??= {});
    const count = (folded[gone.signal] ??= { accepted: 0, refused: 0 });
    if (gone.accepted) count.accepted++;
    else count.refused++;
  }
  (state.actionsUnrecorded ??= []).push(ledgerEntry(recorded));
  dropOldestBeyond(state, QUEUED_ACTIONS_LIMIT);
  return recorded;
}

/** Drops the oldest queued ledger entries beyond `limit`, counting them in `actionsUnrecordedDropped`. */
function dropOldestBeyond(state: ErasureState, limit: number): void {
  const over = (state.actionsUnrecorded?.length ?? 0) - limit;
  if (over <= 0) return;
  state.actionsUnrecorded!.splice(0, over);
  state.actionsUnrecordedDropped = (state.actionsUnrecordedDropped ?? 0) + over;
}

const unrecorded = (state: ErasureState): OperatorActionEntry[] => state.actionsUnrecorded ?? [];

/**
 * Writes queued actions to the audit trail, a batch per local activity, for as long as the run lives.
 * A batch leaves the queue only once written, so a batch in flight at continue-as-new is written again by
 * the next run (readers deduplicate on `n`). Runs from before the patch only empty the queue.
 */
export async function recordActions(run: Run): Promise<void> {
  const { state } = run;
  await wf.condition(() => unrecorded(state).length > 0);
  // Asked once: a second patched() after replay would write a marker into a run that never had one.
  const inLedger = wf.patched(ACTIONS_IN_LEDGER);
  run.recordingActions = inLedger;
  for (;;) {
    await wf.condition(() => unrecorded(state).length > 0);
    if (!inLedger) {
      state.actionsUnrecorded = undefined;
      state.actionsUnrecordedDropped = undefined;
      continue;
    }
    const batch = unrecorded(state).slice(0, ACTIONS_PER_EVENT);
    const dropped = state.actionsUnrecordedDropped ?? 0;
    await run.recordEvent({
      requestId: state.requestId,
      type: auditEventTypes.operatorActions,
      detail: { actions: batch, ...(dropped > 0 ? { dropped } : {}) },
    });
    const written = new Set(batch.map((e) => e.n));
    state.actionsUnrecorded = unrecorded(state).filter((e) => !written.has(e.n));
    if (dropped > 0) state.actionsUnrecordedDropped = (state.actionsUnrecordedDropped ?? 0) - dropped || undefined;
  }
}

/** Resolves once every action recorded so far is in the ledger (at once for runs from before the patch). */
export async function actionsWritten(run: Run): Promise<void> {
  const upTo = run.state.actionsSeen ?? 0;
  const written = () => !unrecorded(run.state).some((e) => e.n <= upTo);
  if (!written()) await wf.condition(written);
}

/**
 * Before continue-as-new: the queue travels in the new run's input, so it must fit {@link UNRECORDED_ACTIONS}.
 * True when it does, or when the run does not write to the ledger (runs from before the patch never queue).
 * Otherwise the workflow gives the recorder a minute to catch up (a flood can queue thousands of actions in
 * one workflow task, and a healthy ledger takes moments), then {@link trimForHandOver} drops the rest.
 */
export const readyForHandOver = (run: Run): boolean => !run.recordingActions || unrecorded(run.state).length <= UNRECORDED_ACTIONS;

/** Drops the oldest queued entries beyond the hand-over bound; the next batch reports how many (`dropped`). */
export const trimForHandOver = (state: ErasureState): void => dropOldestBeyond(state, UNRECORDED_ACTIONS);
