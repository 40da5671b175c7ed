/** Which operator action is accepted when: the signal rules as plain functions, no Temporal server. */
import assert from 'node:assert/strict';
import { defaultPolicies, type ErasureState, type JurisdictionPolicy } from '../../../src/domain';
import { applyOperatorAction, isOperatorAction } from '../../../src/workflows/signal-rules';
import { DAY, T0, twoSystems } from './fixtures';

function setup(policy: JurisdictionPolicy = defaultPolicies.GDPR) {
  const { state } = twoSystems();
  state.phase = 'erasing';
  const act = (signal: string, payload: unknown, now = T0 + DAY) => applyOperatorAction({ state, policy, now }, signal, payload);
  return { state, act };
}

const refusal = (state: ErasureState) => state.actions.at(-1)!;

describe('operator action rules (no server)', () => {
  it('records a malformed payload as refused with each field named, and changes nothing else', () => {
    const { state, act } = setup();
    const before = JSON.stringify(state.systems);
    const r = act('confirmDeletion', { confirmedBy: 'ops' });
    assert.equal(r.accepted, false);
    assert.match(r.reason ?? '', /^malformed payload \(system: /);
    assert.match(act('confirmDeletion', 'not json').reason ?? '', /^malformed payload \(payload: /);
    assert.equal(JSON.stringify(state.systems), before);
    assert.deepEqual(state.actions.map((a) => [a.signal, a.accepted]), [['confirmDeletion', false], ['confirmDeletion', false]]);
  });

  it('refuses unknown action names without recording them, inherited keys included', () => {
    const { state, act } = setup();
    assert.deepEqual(act('constructor', {}), { accepted: false, reason: 'unknown action "constructor"' });
    assert.deepEqual(act('deleteEverything', {}), { accepted: false, reason: 'unknown action "deleteEverything"' });
    assert.equal(state.actions.length, 0);
    assert.equal(isOperatorAction('toString'), false);
    assert.equal(isOperatorAction('cancel'), true);
  });

  it('takes a confirmation only from a confirmation system that awaits one, once', () => {
    const { state, act } = setup();
    assert.match(act('confirmDeletion', { system: 'nope', confirmedBy: 'ops' }).reason ?? '', /unknown system "nope"/);
    assert.match(act('confirmDeletion', { system: 'db', confirmedBy: 'ops' }).reason ?? '', /erased automatically/);
    assert.match(act('confirmDeletion', { system: 'billing', confirmedBy: 'ops' }).reason ?? '', /not awaiting confirmation \(pending\)/);
    state.systems.billing.status = 'awaiting_confirmation';
    state.systems.billing.remindersSent = 2;
    assert.deepEqual(act('confirmDeletion', { system: 'billing', confirmedBy: 'ops@corp', reference: 'T-1' }, T0 + 5 * DAY), { accepted: true });
    const receipt = state.systems.billing.receipt!;
    assert.equal(state.systems.billing.status, 'erased');
    assert.deepEqual([receipt.action, receipt.confirmedBy, receipt.reference, receipt.attempts], ['confirmed', 'ops@corp', 'T-1', 3]);
    assert.equal(receipt.completedAt, new Date(T0 + 5 * DAY).toISOString());
    assert.deepEqual({ by: refusal(state).by, detail: refusal(state).detail }, { by: 'ops@corp', detail: { system: 'billing', reference: 'T-1' } });
    assert.match(act('confirmDeletion', { system: 'billing', confirmedBy: 'ops' }).reason ?? '', /already confirmed/);
  });

  it('extends once, within the jurisdiction limit, and clears overdue only when the new deadline lies ahead', () => {
    const { state, act } = setup();
    state.overdue = true;
    const now = T0 + 31 * DAY;
    assert.match(act('extendDeadline', { days: 61, reason: 'r' }, now).reason ?? '', /at most 60 days may be added under GDPR/);
    assert.deepEqual(act('extendDeadline', { days: 30, reason: 'complex' }, now), { accepted: true });
    assert.equal(state.deadlineAt, T0 + 60 * DAY);
    assert.equal(state.overdue, false);
    assert.deepEqual(refusal(state).detail, { days: 30, reason: 'complex', from: new Date(T0 + 30 * DAY).toISOString(), to: new Date(T0 + 60 * DAY).toISOString() });
    assert.match(act('extendDeadline', { days: 1, reason: 'again' }, now).reason ?? '', /already extended once/);
  });

  it('keeps a request overdue when the extension does not reach past now', () => {
    const { state, act } = setup();
    state.overdue = true;
    assert.equal(act('extendDeadline', { days: 5, reason: 'r' }, T0 + 40 * DAY).accepted, true);
    assert.equal(state.overdue, true);
  });

  it('refuses any extension where the policy allows none', () => {
    const { act } = setup({ ...defaultPolicies.GDPR, maxExtensionDays: 0 });
    assert.match(act('extendDeadline', { days: 1, reason: 'r' }).reason ?? '', /GDPR allows no extension/);
  });

  it('allows cancel only before erasing starts, and only once', () => {
    const { state, act } = setup();
    assert.match(act('cancel', { reason: 'late' }).reason ?? '', /only possible during the grace period \(the request is erasing\)/);
    state.phase = 'grace_period';
    assert.equal(act('cancel', { reason: 'withdrawn' }).accepted, true);
    assert.deepEqual(state.cancelRequested, { reason: 'withdrawn' });
    assert.equal(act('cancel', { reason: 'twice' }).reason, 'already cancelled');
  });

  it('places one legal hold at a time, releases it, and refuses a hold on a finished request', () => {
    const { state, act } = setup();
    assert.match(act('releaseLegalHold', { releasedBy: 'legal' }).reason ?? '', /no legal hold/);
    assert.equal(act('placeLegalHold', { reason: 'litigation', placedBy: 'legal' }, T0 + 2 * DAY).accepted, true);
    assert.deepEqual(state.legalHold, { reason: 'litigation', placedBy: 'legal', since: new Date(T0 + 2 * DAY).toISOString() });
    assert.match(act('placeLegalHold', { reason: 'again', placedBy: 'legal' }).reason ?? '', /already in place/);
    assert.equal(act('releaseLegalHold', { releasedBy: 'legal' }).accepted, true);
    assert.equal(state.legalHold, undefined);
    state.phase = 'completed';
    assert.match(act('placeLegalHold', { reason: 'late', placedBy: 'legal' }).reason ?? '', /the request is completed/);
  });

  it('retries only a system that needs attention', () => {
    const { state, act } = setup();
    assert.match(act('retrySystem', { system: 'db' }).reason ?? '', /does not need attention \(pending\)/);
    state.systems.db.status = 'needs_attention';
    assert.equal(act('retrySystem', { system: 'db' }).accepted, true);
    assert.equal(state.systems.db.retryRequested, true);
  });

  it('takes one report per consumer, and a late one from an escalated critical consumer', () => {
    const { state, act } = setup();
    state.consumers.archive = { id: 'archive', critical: true, status: 'escalated' };
    assert.match(act('consumerCompleted', { consumer: 'ghost', status: 'ok' }).reason ?? '', /unknown consumer "ghost"/);
    assert.equal(act('consumerCompleted', { consumer: 'archive', status: 'failed', note: 'n' }).accepted, true);
    assert.deepEqual([state.consumers.archive.status, state.consumers.archive.note], ['failed', 'n']);
    assert.match(act('consumerCompleted', { consumer: 'archive', status: 'ok' }).reason ?? '', /already reported \(failed\)/);
  });
});
