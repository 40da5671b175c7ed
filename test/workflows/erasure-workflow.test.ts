/**
 * The erasure workflow's branches on the Java time-skipping server, with recording mock activities:
 * days and months pass in seconds.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { ErasureActivities } from '../../src/activities/types';
import { erasureWorkflow } from '../../src/workflows';
import { cancelSignal, confirmDeletionSignal, consumerCompletedSignal, ErasureOverdueKey, ErasureStatusKey, extendDeadlineSignal, operatorActionUpdate, placeLegalHoldSignal, releaseLegalHoldSignal, retrySystemSignal, statusQuery } from '../../src/workflows/definitions';
import { failureTypes } from '../../src/domain';
import { automated, input, manual, plan } from '../harness/plans';
import { DAY, workflowTestbed } from './testbed';

describe('erasureWorkflow (time-skipping)', function () {
  const bed = workflowTestbed();
  const { run, record, until, now } = bed;

  it('erases every automated system, takes a manual confirmation by signal, verifies and certifies', async () => {
    const p = plan([automated('customers-db'), automated('documents', { kind: 's3', dependsOn: ['customers-db'] }), manual('legacy-billing')]);
    await run(input(p, await now()), async (h, calls) => {
      await until(h, (s) => s.pendingConfirmations.includes('legacy-billing'), 'awaiting confirmation');
      await h.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'ops@corp', reference: 'TICKET-1' });
      const result = await h.result();
      assert.equal(result.status, 'completed');
      assert.match(result.certificateId ?? '', /^cert-/);
      assert.deepEqual(result.receipts.map((r) => [r.systemId, r.remaining]).sort(), [['customers-db', 0], ['documents', 0], ['legacy-billing', 0]]);
      assert.equal(result.receipts.find((r) => r.systemId === 'legacy-billing')?.confirmedBy, 'ops@corp');
      // documents depends on customers-db, so it is erased second.
      assert.deepEqual(calls.eraseSystem.map((t) => t.system.id), ['customers-db', 'documents']);
      assert.equal(calls.verifySystem.length, 2);
      assert.equal(calls.issueCertificate.length, 1);
      assert.equal(calls.issueCertificate[0].receipts.length, 3);
      const desc = await h.describe();
      assert.equal(desc.typedSearchAttributes.get(ErasureStatusKey), 'completed');
      await record('happy-path', h);
    });
  });

  it('turns overdue and escalates when the 30-day deadline passes, and keeps waiting', async () => {
    const p = plan([manual('legacy-billing')]);
    await run(input(p, await now()), async (h, calls) => {
      await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting confirmation');
      await bed.env.sleep(31 * DAY);
      const s = await until(h, (x) => x.overdue, 'overdue');
      assert.equal(s.status, 'overdue');
      assert.ok(calls.escalate.some((e) => e.reason === 'overdue'), 'overdue escalation sent');
      assert.ok(calls.escalate.some((e) => e.reason === 'confirmation_due'), 'confirmation escalation sent before the deadline');
      const desc = await h.describe();
      assert.equal(desc.typedSearchAttributes.get(ErasureOverdueKey), true);
      await h.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'late@corp' });
      assert.equal((await h.result()).status, 'completed');
      await record('overdue', h);
    });
  });

  it('sends reminders every 3 days while a confirmation is outstanding', async () => {
    const p = plan([manual('legacy-billing')]);
    await run(input(p, await now()), async (h, calls) => {
      await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting confirmation');
      await bed.env.sleep(10 * DAY);
      await until(h, () => calls.sendReminder.length >= 3, 'three reminders');
      assert.equal(calls.sendReminder.length, 3);
      assert.deepEqual(calls.sendReminder.map((r) => r.remindersSent), [1, 2, 3]);
      assert.equal(calls.sendReminder[0].owner, 'legacy-billing-team');
      await h.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'ops' });
      await h.result();
      assert.equal(calls.sendReminder.length, 3);
      await record('reminders', h);
    });
  });

  it('skips an optional consumer that times out and escalates a critical one until it reports', async () => {
    const p = plan([automated('db')], {
      consumers: [
        { id: 'analytics', critical: false, timeoutDays: 3 },
        { id: 'archive', critical: true, timeoutDays: 3 },
      ],
    });
    const req = input(p, await now());
    await run(req, async (h, calls) => {
      await until(h, (s) => s.phase === 'coordinating', 'coordinating');
      await bed.env.sleep(4 * DAY);
      const s = await until(h, (x) => x.consumers.every((c) => c.status !== 'waiting'), 'consumer timeouts');
      assert.equal(s.consumers.find((c) => c.id === 'analytics')?.status, 'skipped');
      assert.equal(s.consumers.find((c) => c.id === 'archive')?.status, 'escalated');
      assert.deepEqual(calls.escalate.map((e) => [e.reason, e.consumerIds]), [['critical_consumer_timeout', ['archive']]]);
      assert.equal(calls.eraseSystem.length, 0, 'nothing erased while a critical consumer is outstanding');
      await h.signal(consumerCompletedSignal, { consumer: 'archive', status: 'ok' });
      const result = await h.result();
      assert.equal(result.status, 'completed');
      assert.equal(calls.announceToConsumers.length, 1);
      assert.deepEqual(calls.announceToConsumers[0].subject, req.subject, 'the announcement carries the subject, for consumers given identifiers');
      assert.deepEqual(calls.issueCertificate[0].consumers.map((c) => [c.id, c.status]), [['analytics', 'skipped'], ['archive', 'ok']]);
      await record('consumers', h);
    });
  });

  it('erases nothing under a legal hold and resumes when it is released', async () => {
    const p = plan([automated('db')], { consumers: [{ id: 'analytics', critical: false, timeoutDays: 1 }] });
    await run(input(p, await now()), async (h, calls) => {
      await until(h, (s) => s.phase === 'coordinating', 'coordinating');
      await h.signal(placeLegalHoldSignal, { reason: 'litigation 2026-17', placedBy: 'legal@corp' });
      await h.signal(consumerCompletedSignal, { consumer: 'analytics', status: 'ok' });
      const held = await until(h, (s) => s.status === 'on_hold', 'on hold');
      assert.equal(held.legalHold?.placedBy, 'legal@corp');
      await bed.env.sleep(5 * DAY);
      assert.equal(calls.eraseSystem.length, 0, 'no erasure during the hold');
      await h.signal(releaseLegalHoldSignal, { releasedBy: 'legal@corp' });
      const result = await h.result();
      assert.equal(result.status, 'completed');
      assert.equal(calls.eraseSystem.length, 1);
      assert.deepEqual(calls.issueCertificate[0].actions.filter((a) => a.accepted).map((a) => a.signal), ['placeLegalHold', 'consumerCompleted', 'releaseLegalHold']);
      await record('legal-hold', h);
    });
  });

  it('moves the deadline on extension within the policy and refuses a second extension', async () => {
    const p = plan([manual('legacy-billing')]);
    const req = input(p, await now());
    await run(req, async (h, calls) => {
      const before = await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting confirmation');
      await h.signal(extendDeadlineSignal, { days: 90, reason: 'too long' });
      await h.signal(extendDeadlineSignal, { days: 30, reason: 'complex request, Art. 12(3)' });
      await h.signal(extendDeadlineSignal, { days: 10, reason: 'again' });
      const s = await until(h, (x) => x.actions.length === 3, 'three extension actions');
      assert.equal(Date.parse(s.deadline) - Date.parse(before.deadline), 30 * DAY);
      assert.equal(s.extended, true);
      assert.deepEqual(s.actions.map((a) => a.accepted), [false, true, false]);
      assert.match(s.actions[0].reason ?? '', /at most 60 days/);
      assert.match(s.actions[2].reason ?? '', /already extended/);
      // The ledger hears of the extension once, with times and days only (its deadline and overdue counts follow).
      await until(h, () => calls.recordEvent.some((e) => e.type === 'deadline.extended'), 'extension recorded');
      const recorded = calls.recordEvent.filter((e) => e.type === 'deadline.extended');
      assert.deepEqual(recorded.map((e) => e.detail), [{ deadline: s.deadline, from: before.deadline, days: 30 }]);
      // Past the original deadline but within the extended one: not overdue.
      await bed.env.sleep(35 * DAY);
      assert.equal((await h.query(statusQuery)).overdue, false);
      await h.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'ops' });
      await h.result();
      await record('extension', h);
    });
  });

  it('restores soft-deleted data and ends as cancelled when cancelled during the grace period', async () => {
    const p = plan([automated('db', { softDelete: true }), automated('search', { kind: 'elasticsearch' })], { policy: { graceDays: 7 } });
    await run(input(p, await now()), async (h, calls) => {
      await until(h, (s) => s.phase === 'grace_period' && s.systems.some((x) => x.status === 'soft_deleted'), 'grace period');
      await bed.env.sleep(2 * DAY);
      await h.signal(cancelSignal, { reason: 'subject withdrew the request' });
      const result = await h.result();
      assert.equal(result.status, 'cancelled');
      assert.deepEqual(calls.softDeleteSystem.map((t) => t.system.id), ['db']);
      assert.deepEqual(calls.restoreSystem.map((t) => t.system.id), ['db']);
      assert.equal(calls.eraseSystem.length, 0);
      assert.equal((await h.query(statusQuery)).status, 'cancelled');
      await record('grace-cancel', h);
    });
  });

  it('refuses cancel after the grace period and records the refusal', async () => {
    const p = plan([manual('m')], { policy: { graceDays: 1 } });
    await run(input(p, await now()), async (h) => {
      await until(h, (s) => s.phase === 'grace_period', 'grace');
      await bed.env.sleep(2 * DAY);
      await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting');
      await h.signal(cancelSignal, { reason: 'too late' });
      const s = await until(h, (x) => x.actions.length === 1, 'refusal recorded');
      assert.equal(s.actions[0].accepted, false);
      assert.match(s.actions[0].reason ?? '', /grace period/);
      await h.signal(confirmDeletionSignal, { system: 'm', confirmedBy: 'ops' });
      assert.equal((await h.result()).status, 'completed');
      await record('cancel-refused', h);
    });
  });

  it('puts a system that fails for good into needs_attention until retrySystem, then completes', async () => {
    let failures = 1;
    const eraseSystem: ErasureActivities['eraseSystem'] = async () => {
      if (failures-- > 0) throw ApplicationFailure.create({ type: failureTypes.nonRetryableConnector, nonRetryable: true, message: 'table "customers" does not exist (system db)' });
      return { action: 'delete', found: 1, erased: 1, evidenceHash: 'x' };
    };
    const p = plan([automated('db')]);
    await run(
      input(p, await now()),
      async (h, calls) => {
        const s = await until(h, (x) => x.status === 'needs_attention', 'needs attention');
        assert.match(s.systems[0].lastError ?? '', /does not exist/);
        assert.ok(calls.escalate.some((e) => e.reason === 'needs_attention'));
        const desc = await h.describe();
        assert.equal(desc.typedSearchAttributes.get(ErasureStatusKey), 'needs_attention');
        await h.signal(retrySystemSignal, { system: 'db' });
        const result = await h.result();
        assert.equal(result.status, 'completed');
        assert.equal(result.receipts[0].attempts, 2);
        await record('retry-system', h);
      },
      { eraseSystem },
    );
  });

  it('re-erases a system that verification finds not empty, then needs attention after the last round', async () => {
    const p = plan([automated('db')], { policy: { maxVerifyRounds: 2 } });
    await run(
      input(p, await now()),
      async (h, calls) => {
        const s = await until(h, (x) => x.status === 'needs_attention', 'needs attention');
        assert.match(s.systems[0].lastError ?? '', /3 item\(s\) remain after 2/);
        assert.equal(calls.eraseSystem.length, 2);
        await h.terminate('test done');
        await record('verify-rounds', h);
      },
      { verifySystem: async () => ({ remaining: 3 }) },
    );
  });

  it('records bad signals as rejected actions and never fails the workflow', async () => {
    const p = plan([manual('legacy-billing')]);
    await run(input(p, await now()), async (h) => {
      await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting');
      await h.signal(confirmDeletionSignal, { system: 'nope', confirmedBy: 'x' });
      // Payloads a CLI could send: the signal types forbid them, so they are cast past the compiler.
      await h.signal(confirmDeletionSignal, { confirmedBy: 'x' } as never);
      await h.signal(confirmDeletionSignal, 'not even an object' as never);
      await h.signal(retrySystemSignal, { system: 'legacy-billing' });
      await h.signal(consumerCompletedSignal, { consumer: 'ghost', status: 'done' } as never);
      await h.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'ops' });
      await h.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'ops' });
      const result = await h.result();
      assert.equal(result.status, 'completed');
      const s = await h.query(statusQuery);
      const rejected = s.actions.filter((a) => !a.accepted).map((a) => a.reason ?? '');
      assert.equal(rejected.length, 6);
      assert.match(rejected[0], /unknown system "nope"/);
      assert.match(rejected[1], /malformed payload \(system:/);
      assert.match(rejected[2], /malformed payload/);
      assert.match(rejected[3], /does not need attention/);
      assert.match(rejected[4], /malformed payload \(status:/);
      assert.match(rejected[5], /already confirmed/);
      await record('bad-signals', h);
    });
  });

  it('answers operator actions sent as an update with accepted or the reason for refusal', async () => {
    const p = plan([manual('legacy-billing')]);
    await run(input(p, await now()), async (h) => {
      await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting');
      const refused = await h.executeUpdate(operatorActionUpdate, { args: [{ signal: 'cancel', payload: { reason: 'late' } }] });
      assert.deepEqual(refused, { accepted: false, reason: 'cancel is only possible during the grace period (the request is erasing)' });
      const ok = await h.executeUpdate(operatorActionUpdate, { args: [{ signal: 'confirmDeletion', payload: { system: 'legacy-billing', confirmedBy: 'ops' } }] });
      assert.deepEqual(ok, { accepted: true });
      assert.equal((await h.result()).status, 'completed');
      await record('operator-update', h);
    });
  });

  it('continues as new when history grows and keeps every piece of state', async () => {
    const p = plan([automated('db'), manual('legacy-billing')]);
    const req = input(p, await now(), { continueAsNewAfterEvents: 40 });
    await run(req, async (h, calls) => {
      await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting');
      await h.signal(extendDeadlineSignal, { days: 20, reason: 'complex' });
      // Reminders every 3 days for 30 days grow the history past the threshold.
      await bed.env.sleep(30 * DAY);
      const s = await until(h, (x) => calls.sendReminder.length >= 9 && x.status === 'awaiting_confirmation', 'reminders');
      const desc = await bed.env.client.workflow.getHandle(h.workflowId).describe();
      assert.notEqual(desc.runId, h.firstExecutionRunId, 'a new run took over');
      assert.equal(s.extended, true);
      assert.equal(s.actions.length, 1);
      assert.equal(s.systems.find((x) => x.id === 'db')?.status, 'erased');
      assert.ok((s.systems.find((x) => x.id === 'legacy-billing')?.remindersSent ?? 0) >= 9);
      await bed.env.client.workflow.getHandle(h.workflowId).signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'ops' });
      const result = await bed.env.client.workflow.getHandle<typeof erasureWorkflow>(h.workflowId).result();
      assert.equal(result.status, 'completed');
      assert.equal(calls.eraseSystem.length, 1, 'the erased system is not erased again in the new run');
      assert.equal(calls.announceToConsumers.length, 0);
      await record('continue-as-new', bed.env.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId));
    });
  });
});
