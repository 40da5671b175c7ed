/** The request's state and status derivation, as plain functions: no Temporal server. */
import assert from 'node:assert/strict';
import { defaultPolicies } from '../../../src/domain';
import { initialState, isDone, pendingSystems, receiptOf, searchAttributeValues, startingState, statusOf, statusView } from '../../../src/workflows/state';
import { input, manual, plan } from '../../harness/plans';
import { DAY, T0, twoSystems } from './fixtures';

describe('workflow state (rules, no server)', () => {
  it('computes the deadline from the jurisdiction and the grace end only when the policy has one', () => {
    const gdpr = initialState(input(plan([]), new Date(T0)));
    assert.equal(gdpr.deadlineAt, T0 + 30 * DAY);
    assert.equal(gdpr.graceEndsAt, undefined);
    const ccpa = initialState(input({ ...plan([]), policy: { ...defaultPolicies.CCPA, graceDays: 7 } }, new Date(T0)));
    assert.equal(ccpa.deadlineAt, T0 + 45 * DAY);
    assert.equal(ccpa.graceEndsAt, T0 + 7 * DAY);
    assert.equal(ccpa.jurisdiction, 'CCPA');
  });

  it('starts every system pending and every consumer waiting', () => {
    const s = initialState(input(plan([manual('m')], { consumers: [{ id: 'analytics', critical: true, timeoutDays: 2 }] }), new Date(T0)));
    assert.deepEqual(Object.values(s.systems).map((x) => [x.id, x.status, x.attempts]), [['m', 'pending', 0]]);
    assert.deepEqual(s.consumers.analytics, { id: 'analytics', critical: true, status: 'waiting' });
  });

  it('carries the state into a new run and counts the run', () => {
    const { state } = twoSystems();
    state.systems.db.status = 'erased';
    const next = startingState({ ...input(plan([]), new Date(T0)), carried: state });
    assert.equal(next.runs, 2);
    assert.equal(next.systems.db.status, 'erased');
  });

  it('counts a confirmation system as done once confirmed, an automated one only once verified', () => {
    const { state } = twoSystems();
    state.systems.db.status = 'erased';
    state.systems.billing.status = 'erased';
    assert.equal(isDone(state.systems.db), false);
    assert.equal(isDone(state.systems.billing), true);
    assert.deepEqual(pendingSystems(state), ['db']);
    state.systems.db.status = 'verified';
    assert.deepEqual(pendingSystems(state), []);
  });

  it('shows the side state that most needs eyes: hold, then needs_attention, overdue, awaiting_confirmation, then the phase', () => {
    const { state } = twoSystems();
    state.phase = 'erasing';
    assert.equal(statusOf(state), 'erasing');
    state.systems.billing.status = 'awaiting_confirmation';
    assert.equal(statusOf(state), 'awaiting_confirmation');
    state.overdue = true;
    assert.equal(statusOf(state), 'overdue');
    state.systems.db.status = 'needs_attention';
    assert.equal(statusOf(state), 'needs_attention');
    state.legalHold = { reason: 'r', placedBy: 'legal', since: new Date(T0).toISOString() };
    assert.equal(statusOf(state), 'on_hold');
    state.phase = 'completed';
    assert.equal(statusOf(state), 'completed');
  });

  it('clears pending systems from the search attributes once the request is finished', () => {
    const { state } = twoSystems();
    assert.deepEqual(searchAttributeValues(state).pending, ['db', 'billing']);
    state.phase = 'cancelled';
    assert.deepEqual(searchAttributeValues(state), { status: 'cancelled', deadline: T0 + 30 * DAY, pending: [], overdue: false });
  });

  it('answers the status query with ISO times and without internal flags', () => {
    const { state } = twoSystems();
    state.systems.billing.status = 'awaiting_confirmation';
    state.systems.billing.nextReminderAt = T0 + 3 * DAY;
    const view = statusView(state);
    assert.equal(view.deadline, new Date(T0 + 30 * DAY).toISOString());
    assert.deepEqual(view.pendingConfirmations, ['billing']);
    const billing = view.systems.find((s) => s.id === 'billing')!;
    assert.equal(billing.nextReminderAt, new Date(T0 + 3 * DAY).toISOString());
    assert.equal('retryRequested' in billing, false);
  });

  it('keeps the first start time of a receipt across rounds', () => {
    const { state } = twoSystems();
    const db = state.systems.db;
    db.receipt = receiptOf(db, { action: 'delete', found: 1, erased: 1, evidenceHash: 'h', attempts: 1, startedAt: 'first', completedAt: 'a' });
    const again = receiptOf(db, { action: 'delete', found: 2, erased: 2, evidenceHash: 'h', attempts: 2, startedAt: 'second', completedAt: 'b' });
    assert.equal(again.startedAt, 'first');
    assert.equal(again.remaining, 0);
    assert.equal(again.systemId, 'db');
  });
});
