/**
 * Which operator action is accepted when, as pure rules over the request's state. Each rule returns
 * the refusal reason (a string), or the detail to record when it accepts and has changed the state.
 * Payloads arrive as raw JSON from CLIs, so {@link applyOperatorAction} validates before any rule runs.
 */
import {
  actorClaimSchema,
  attestedFields,
  DAY_MS,
  formatIssues,
  operatorActionSchemas,
  type ActionAttestation,
  type ErasureState,
  type JurisdictionPolicy,
  type OperatorAction,
  type OperatorActionName,
  type OperatorActionPayloads,
  type OperatorActionResult,
} from '../domain';
import { appendAction } from './action-log';
import { isFinished, iso, receiptOf } from './state';

/** What a rule sees: the state it may change, the policy, and the workflow clock's now (epoch ms). */
export interface RuleContext {
  state: ErasureState;
  policy: JurisdictionPolicy;
  now: number;
  /** The API's claim about who sent this action, with its target; absent for a signal sent straight to Temporal. */
  attestation?: ActionAttestation;
}

/** A refusal reason, or the accepted action's detail (undefined when there is nothing to add). */
export type RuleOutcome = string | OperatorAction['detail'] | void;

type Rules = { [K in OperatorActionName]: (ctx: RuleContext, payload: OperatorActionPayloads[K]) => RuleOutcome };

export const operatorActionRules: Rules = {
  confirmDeletion({ state, now, attestation }, p) {
    const s = state.systems[p.system];
    if (!s) return `unknown system "${p.system}"`;
    if (s.mode !== 'confirmation') return `system "${p.system}" is erased automatically and takes no confirmation`;
    if (s.status === 'erased') return `system "${p.system}" is already confirmed`;
    if (s.status !== 'awaiting_confirmation') return `system "${p.system}" is not awaiting confirmation (${s.status})`;
    const at = iso(now);
    s.status = 'erased';
    s.receipt = receiptOf(s, {
      action: 'confirmed',
      found: 0,
      erased: 0,
      evidenceHash: '',
      attempts: s.remindersSent + 1,
      startedAt: at,
      completedAt: at,
      confirmedBy: p.confirmedBy,
      attestation,
      reference: p.reference,
      note: p.note,
    });
    return { system: p.system, reference: p.reference };
  },

  consumerCompleted({ state, now, attestation }, p) {
    const c = state.consumers[p.consumer];
    if (!c) return `unknown consumer "${p.consumer}"`;
    if (c.status !== 'waiting' && c.status !== 'escalated') return `consumer "${p.consumer}" already reported (${c.status})`;
    c.status = p.status;
    c.note = p.note;
    c.reportedAt = iso(now);
    if (attestation) c.attestation = attestation;
    return { consumer: p.consumer, status: p.status };
  },

  placeLegalHold({ state, now }, p) {
    if (isFinished(state)) return `the request is ${state.phase}`;
    if (state.legalHold) return 'a legal hold is already in place';
    state.legalHold = { reason: p.reason, placedBy: p.placedBy, since: iso(now) };
    return { reason: p.reason };
  },

  releaseLegalHold({ state }) {
    if (!state.legalHold) return 'no legal hold is in place';
    state.legalHold = undefined;
  },

  extendDeadline({ state, policy, now }, p) {
    if (isFinished(state)) return `the request is ${state.phase}`;
    if (policy.maxExtensionDays <= 0) return `${policy.jurisdiction} allows no extension`;
    if (state.extended) return 'the deadline was already extended once';
    if (p.days > policy.maxExtensionDays) return `at most ${policy.maxExtensionDays} days may be added under ${policy.jurisdiction}`;
    const from = state.deadlineAt;
    state.deadlineAt += p.days * DAY_MS;
    state.extended = true;
    if (state.overdue && state.deadlineAt > now) state.overdue = false;
    return { days: p.days, reason: p.reason, from: iso(from), to: iso(state.deadlineAt) };
  },

  cancel({ state }, p) {
    if (state.phase !== 'accepted' && state.phase !== 'grace_period') {
      return `cancel is only possible during the grace period (the request is ${state.phase})`;
    }
    if (state.cancelRequested) return 'already cancelled';
    state.cancelRequested = { reason: p.reason };
    return { reason: p.reason };
  },

  retrySystem({ state }, p) {
    const s = state.systems[p.system];
    if (!s) return `unknown system "${p.system}"`;
    if (s.status !== 'needs_attention') return `system "${p.system}" does not need attention (${s.status})`;
    s.retryRequested = true;
    return { system: p.system };
  },
};

/** True for the names of operator actions (and not for `constructor` and other inherited keys). */
export const isOperatorAction = (name: unknown): name is OperatorActionName =>
  typeof name === 'string' && Object.prototype.hasOwnProperty.call(operatorActionRules, name);

/** Who the payload says acted, for the audit trail. */
function actor(payload: unknown): string | undefined {
  const p = (payload ?? {}) as { confirmedBy?: string; placedBy?: string; releasedBy?: string };
  return p.confirmedBy ?? p.placedBy ?? p.releasedBy;
}

/**
 * Validates a raw payload, applies the action's rule and records the action (accepted or refused, with
 * the reason) with {@link appendAction}: the state keeps the latest, the ledger every one. Unknown action
 * names are refused without being recorded. `claim` is the API's claim about who sent the action; it is
 * kept with the target the action was applied to, unchecked (the workflow holds no key): the ledger writer
 * and the certificate issuer check it. A claim that is not even well formed is dropped.
 * @example applyOperatorAction({ state, policy, now: Date.now() }, 'cancel', { reason: 'withdrawn' })
 */
export function applyOperatorAction(ctx: RuleContext, signal: string, raw: unknown, claim?: unknown): OperatorActionResult {
  if (!isOperatorAction(signal)) return { accepted: false, reason: `unknown action "${String(signal)}"` };
  const claimed = claim === undefined ? undefined : actorClaimSchema.safeParse(claim);
  const attestation = claimed?.success ? { ...claimed.data, fields: attestedFields(raw) } : undefined;
  const record = (accepted: boolean, extra: Omit<OperatorAction, 'at' | 'signal' | 'accepted'> = {}) => {
    appendAction(ctx.state, { at: iso(ctx.now), signal, accepted, ...extra, ...(attestation ? { attestation } : {}) });
  };
  const parsed = operatorActionSchemas[signal].safeParse(raw);
  if (!parsed.success) {
    const reason = `malformed payload (${formatIssues(parsed.error, { root: 'payload' })})`;
    record(false, { reason });
    return { accepted: false, reason };
  }
  const by = actor(parsed.data);
  const rule = operatorActionRules[signal] as (ctx: RuleContext, payload: unknown) => RuleOutcome;
  const outcome = rule({ ...ctx, attestation }, parsed.data);
  if (typeof outcome === 'string') {
    record(false, { reason: outcome, by });
    return { accepted: false, reason: outcome };
  }
  record(true, { by, detail: outcome ?? undefined });
  return { accepted: true };
}

/**
 * Applies the engine's notice that a system was paused or resumed for every request: an automated system of
 * this request that still has work (not verified, not waiting for an operator's retry) shows `paused` (its lane
 * waits before its next erase or verify, an erase in flight stops), a resume lets the
 * lane go on at once. Anything else (an unknown or finished system, a confirmation system, a malformed
 * notice) changes nothing. Returns whether the state changed. The notice is only a wake-up: the activities
 * read the pause from the ledger, so a forged one can delay a lane by one look, never skip a pause.
 * @example applyPauseNotice(state, { system: 'crm', paused: true }, Date.now())
 */
export function applyPauseNotice(state: ErasureState, raw: unknown, now: number): boolean {
  const notice = (raw ?? {}) as { system?: unknown; paused?: unknown };
  if (typeof notice.system !== 'string' || typeof notice.paused !== 'boolean' || isFinished(state)) return false;
  const s = Object.hasOwn(state.systems, notice.system) ? state.systems[notice.system] : undefined;
  // A system needing an operator waits for `retrySystem` anyway; its erase after the retry learns of the pause itself.
  if (!s || s.mode !== 'automated' || s.status === 'verified' || (notice.paused && s.status === 'needs_attention')) return false;
  if (notice.paused === Boolean(s.paused)) return false;
  s.paused = notice.paused ? { since: iso(now) } : undefined;
  return true;
}
