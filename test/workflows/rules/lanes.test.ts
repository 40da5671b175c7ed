/** The automated lane, the confirmation lane and the deadline rules, driven without a Temporal server. */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { defaultPolicies, failureTypes } from '../../../src/domain';
import { applyVerification, dependenciesErased, eraseOnce, recordErased, resetForRetry, verifyOnce } from '../../../src/workflows/automated-lane';
import {
  awaitConfirmation,
  escalationAt,
  nextWakeAt,
  reminderIntervalMs,
  requestConfirmation,
  takeEscalation,
  takeReminder,
} from '../../../src/workflows/confirmation-lane';
import { becomesOverdue } from '../../../src/workflows/deadline-watcher';
import { automated, manual } from '../../harness/plans';
import { DAY, fakeRun, T0, twoSystems } from './fixtures';

const policy = defaultPolicies.GDPR;

describe('automated lane (rules, no server)', () => {
  it('waits for the systems it depends on until they are erased; unknown dependencies do not block', () => {
    const { state } = twoSystems();
    const search = automated('search', { dependsOn: ['db', 'gone'] });
    assert.equal(dependenciesErased(state, search), false);
    state.systems.db.status = 'erased';
    assert.equal(dependenciesErased(state, search), true);
  });

  it('adds up what each round found and erased, and keeps the first start', () => {
    const { state } = twoSystems();
    const db = state.systems.db;
    db.attempts = 1;
    recordErased(db, { action: 'delete', found: 5, erased: 5, evidenceHash: 'a' }, 'start-1', T0);
    db.attempts = 2;
    recordErased(db, { action: 'delete', found: 2, erased: 2, evidenceHash: 'b', details: { rows: 2 } }, 'start-2', T0 + 1000);
    assert.equal(db.status, 'erased');
    assert.deepEqual([db.receipt!.found, db.receipt!.erased, db.receipt!.attempts, db.receipt!.startedAt, db.receipt!.evidenceHash], [7, 7, 2, 'start-1', 'b']);
    assert.deepEqual(db.receipt!.details, { rows: 2 });
  });

  it('verifies at zero, sends back for another round while rounds remain, then needs attention', () => {
    const { state } = twoSystems();
    const db = state.systems.db;
    recordErased(db, { action: 'delete', found: 1, erased: 1, evidenceHash: 'a' }, 's', T0);
    const p = { maxVerifyRounds: 2 };
    assert.equal(applyVerification(db, 3, p), 'again');
    assert.deepEqual([db.status, db.verifyRounds, db.receipt!.remaining], ['pending', 1, 3]);
    assert.equal(applyVerification(db, 3, p), 'needs_attention');
    assert.deepEqual([db.status, db.lastError], ['needs_attention', '3 item(s) remain after 2 verification round(s)']);
    resetForRetry(db);
    assert.deepEqual([db.status, db.lastError, db.retryRequested], ['pending', undefined, false]);
    assert.equal(applyVerification(db, 0, p), 'verified');
    assert.equal(db.receipt!.remaining, 0);
  });

  it('erases once: a receipt on success', async () => {
    const { run, calls } = fakeRun([automated('db')]);
    await eraseOnce(run, run.state.systems.db);
    assert.equal(run.state.systems.db.status, 'erased');
    assert.equal(run.state.systems.db.attempts, 1);
    assert.equal(calls.eraseSystem[0].system.id, 'db');
    assert.equal(calls.escalate.length, 0);
  });

  it('erases once: a failure puts the system in needs_attention with the cause, and escalates', async () => {
    const failure = ApplicationFailure.create({ type: failureTypes.nonRetryableConnector, nonRetryable: true, message: 'table "customers" does not exist' });
    const { run, calls } = fakeRun([automated('db')], { eraseSystem: async () => Promise.reject(failure) });
    await eraseOnce(run, run.state.systems.db);
    assert.deepEqual([run.state.systems.db.status, run.state.systems.db.lastError], ['needs_attention', 'table "customers" does not exist']);
    assert.deepEqual(calls.escalate.map((e) => [e.reason, e.systemIds]), [['needs_attention', ['db']]]);
  });

  it('verifies once and escalates only when the rounds are used up', async () => {
    const { run, calls } = fakeRun([automated('db')], { verifySystem: async () => ({ remaining: 4 }) });
    const db = run.state.systems.db;
    db.status = 'erased';
    db.verifyRounds = policy.maxVerifyRounds - 2;
    await verifyOnce(run, db);
    assert.equal(db.status, 'pending');
    assert.equal(calls.escalate.length, 0);
    await verifyOnce(run, db);
    assert.equal(db.status, 'needs_attention');
    assert.equal(calls.escalate.length, 1);
  });
});

describe('confirmation lane (rules, no server)', () => {
  it('reminds on the system’s own interval, else the policy’s', () => {
    assert.equal(reminderIntervalMs({ reminderEveryDays: 1 }, policy), DAY);
    assert.equal(reminderIntervalMs({}, policy), 3 * DAY);
  });

  it('escalates escalateBeforeDays before the deadline, and wakes for whichever comes first', () => {
    const { state } = twoSystems();
    const billing = state.systems.billing;
    assert.equal(escalationAt(state, policy), T0 + 25 * DAY);
    billing.nextReminderAt = T0 + 3 * DAY;
    assert.equal(nextWakeAt(billing, state, policy), T0 + 3 * DAY);
    billing.nextReminderAt = T0 + 27 * DAY;
    assert.equal(nextWakeAt(billing, state, policy), T0 + 25 * DAY);
    billing.escalated = true;
    assert.equal(nextWakeAt(billing, state, policy), T0 + 27 * DAY);
  });

  it('sends a due reminder and moves the schedule; under a legal hold the schedule moves without one', () => {
    const { state } = twoSystems();
    const billing = state.systems.billing;
    const p = manual('billing');
    billing.nextReminderAt = T0 + 3 * DAY;
    assert.equal(takeReminder(billing, p, state, policy, T0 + 2 * DAY), false);
    assert.equal(takeReminder(billing, p, state, policy, T0 + 3 * DAY), true);
    assert.deepEqual([billing.remindersSent, billing.nextReminderAt], [1, T0 + 6 * DAY]);
    state.legalHold = { reason: 'r', placedBy: 'legal', since: '' };
    assert.equal(takeReminder(billing, p, state, policy, T0 + 6 * DAY), false);
    assert.deepEqual([billing.remindersSent, billing.nextReminderAt], [1, T0 + 9 * DAY]);
  });

  it('escalates once, and later when the deadline was extended', () => {
    const { state } = twoSystems();
    const billing = state.systems.billing;
    state.deadlineAt += 30 * DAY;
    assert.equal(takeEscalation(billing, state, policy, T0 + 25 * DAY), false);
    assert.equal(takeEscalation(billing, state, policy, T0 + 55 * DAY), true);
    assert.equal(takeEscalation(billing, state, policy, T0 + 56 * DAY), false);
  });

  it('notifies once and waits; a failed notification needs attention without an escalation', async () => {
    const ok = fakeRun([manual('billing')]);
    assert.equal(await requestConfirmation(ok.run, ok.run.state.systems.billing, manual('billing')), 'awaiting');
    assert.equal(ok.run.state.systems.billing.status, 'awaiting_confirmation');
    assert.equal(ok.calls.notifySystem.length, 1);
    assert.equal(await requestConfirmation(ok.run, ok.run.state.systems.billing, manual('billing')), 'awaiting');
    assert.equal(ok.calls.notifySystem.length, 1, 'notified once');

    const failing = fakeRun([manual('billing')], { notifySystem: async () => Promise.reject(new Error('receiver answered 500')) });
    assert.equal(await requestConfirmation(failing.run, failing.run.state.systems.billing, manual('billing')), 'failed');
    assert.deepEqual([failing.run.state.systems.billing.status, failing.run.state.systems.billing.lastError], ['needs_attention', 'receiver answered 500']);
    assert.equal(failing.calls.escalate.length, 0);
  });

  it('sends the due reminder to the owner and the escalation when both have come', async () => {
    const { run, calls } = fakeRun([manual('billing')]);
    const billing = run.state.systems.billing;
    billing.status = 'awaiting_confirmation';
    billing.nextReminderAt = Date.now() - 1;
    run.state.deadlineAt = Date.now();
    await awaitConfirmation(run, billing, manual('billing'));
    assert.deepEqual(calls.sendReminder.map((r) => [r.systemId, r.owner, r.remindersSent]), [['billing', 'billing-team', 1]]);
    assert.deepEqual(calls.escalate.map((e) => e.reason), ['confirmation_due']);
  });

  it('sends nothing once the confirmation has arrived', async () => {
    const { run, calls } = fakeRun([manual('billing')]);
    const billing = run.state.systems.billing;
    billing.status = 'erased';
    billing.nextReminderAt = Date.now() - 1;
    await awaitConfirmation(run, billing, manual('billing'));
    assert.equal(calls.sendReminder.length + calls.escalate.length, 0);
  });
});

describe('deadline rules (no server)', () => {
  it('becomes overdue once, when the deadline has passed', () => {
    assert.equal(becomesOverdue({ overdue: false, deadlineAt: T0 }, T0 - 1), false);
    assert.equal(becomesOverdue({ overdue: false, deadlineAt: T0 }, T0), true);
    assert.equal(becomesOverdue({ overdue: true, deadlineAt: T0 }, T0 + DAY), false);
  });
});
