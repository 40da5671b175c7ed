/**
 * Identity enrichment in the erasure workflow on the time-skipping server: systems that `provide`
 * identifiers are asked before anything is erased, every later task carries what they found, and the values
 * stay out of search attributes, the status view, events and escalations.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { ErasureActivities, SystemTask } from '../../src/activities/types';
import { failureTypes } from '../../src/domain';
import { erasureWorkflow } from '../../src/workflows';
import { confirmDeletionSignal, consumerCompletedSignal, placeLegalHoldSignal, releaseLegalHoldSignal, retrySystemSignal, statusQuery } from '../../src/workflows/definitions';
import { automated, input, manual, plan, type Calls } from '../harness/plans';
import { DAY, workflowTestbed } from './testbed';

/** Distinctive derived values, so a leak is easy to search for. */
const USER_IDS = ['uid-7c1e-17', 'uid-7c1e-18'];
const onlyEmail = { email: 'ada.lovelace@example.com' };

/** The shop database finds the user ids; documents (no dependsOn) needs them for `users/{userId}/`. */
const shopPlan = () => plan([automated('shop-db', { provides: ['userId'] }), automated('documents', { kind: 's3' })]);

/** Records the order of identify and erase calls across systems. */
function ordered(identify: ErasureActivities['identifySystem']): { order: string[]; overrides: Partial<ErasureActivities> } {
  const order: string[] = [];
  return {
    order,
    overrides: {
      identifySystem: async (t) => {
        order.push(`identify:${t.system.id}`);
        return identify(t);
      },
      eraseSystem: async (t) => {
        order.push(`erase:${t.system.id}`);
        return { action: 'delete', found: 1, erased: 1, evidenceHash: 'e'.repeat(64) };
      },
    },
  };
}

/** Everything the workflow wrote where derived values must never appear. */
function leakText(calls: Calls, extra: unknown[]): string {
  return JSON.stringify([calls.recordEvent, calls.escalate, calls.sendReminder, calls.announceToConsumers, ...extra]);
}

const derivedOf = (tasks: SystemTask[], id: string) => tasks.filter((t) => t.system.id === id).map((t) => t.derived);

describe('identity enrichment in erasureWorkflow (time-skipping)', function () {
  const bed = workflowTestbed();
  const { run, record, until, now } = bed;

  it('asks the provider before any erase and hands the derived userId to the other system', async () => {
    const { order, overrides } = ordered(async (t) => (t.system.id === 'shop-db' ? { userId: USER_IDS } : ({} as Record<string, string[]>)));
    await run(
      input(shopPlan(), await now(), { subject: onlyEmail }),
      async (h, calls) => {
        const result = await h.result();
        assert.equal(result.status, 'completed');
        assert.deepEqual(order.slice(0, 1), ['identify:shop-db'], 'identified first');
        assert.deepEqual(order.slice(1).sort(), ['erase:documents', 'erase:shop-db']);
        assert.equal(calls.identifySystem.length, 1);
        assert.deepEqual(calls.identifySystem[0].subject, onlyEmail);
        assert.deepEqual(derivedOf(calls.eraseSystem, 'documents'), [{ userId: USER_IDS }]);
        assert.deepEqual(derivedOf(calls.verifySystem, 'documents'), [{ userId: USER_IDS }]);
        for (const t of [...calls.eraseSystem, ...calls.verifySystem]) assert.deepEqual(t.subject, onlyEmail, 'the subject itself is untouched');
        assert.deepEqual(calls.issueCertificate[0].derived, { userId: USER_IDS });

        const status = await h.query(statusQuery);
        assert.deepEqual(status.derived, { userId: 2 });
        assert.equal(status.systems.find((s) => s.id === 'shop-db')?.identified, true);
        const desc = await h.describe();
        const text = leakText(calls, [status, desc.searchAttributes, desc.typedSearchAttributes.getAll()]);
        for (const v of USER_IDS) assert.ok(!text.includes(v), 'a derived value left the encrypted payloads');
        await record('derived-identifiers', h);
      },
      overrides,
    );
  });

  it('never replaces an identifier the request carried, and asks no provider with nothing to find', async () => {
    const carried = { email: 'ada.lovelace@example.com', userId: 'u-1' };
    const { order, overrides } = ordered(async () => ({ userId: ['uid-other'] }));
    await run(
      input(shopPlan(), await now(), { subject: carried }),
      async (h, calls) => {
        assert.equal((await h.result()).status, 'completed');
        assert.equal(calls.identifySystem.length, 0, 'the request carries every name shop-db provides');
        assert.ok(order.every((o) => o.startsWith('erase:')));
        for (const t of calls.eraseSystem) {
          assert.equal(t.subject.userId, 'u-1');
          assert.equal(t.derived, undefined);
        }
        assert.equal(calls.issueCertificate[0].derived, undefined);
        assert.equal((await h.query(statusQuery)).derived, undefined);
      },
      overrides,
    );
  });

  it('keeps the carried userId and takes only the names the request lacks from a provider', async () => {
    const carried = { email: 'ada.lovelace@example.com', userId: 'u-1' };
    const p = plan([automated('shop-db', { provides: ['userId', 'phone'] }), automated('documents', { kind: 's3' })]);
    const identifySystem: ErasureActivities['identifySystem'] = async () => ({ userId: ['uid-other'], phone: ['+4915112345678'] });
    await run(
      input(p, await now(), { subject: carried }),
      async (h, calls) => {
        assert.equal((await h.result()).status, 'completed');
        assert.equal(calls.identifySystem.length, 1);
        assert.deepEqual(derivedOf(calls.eraseSystem, 'documents'), [{ phone: ['+4915112345678'] }]);
        assert.ok(calls.eraseSystem.every((t) => t.subject.userId === 'u-1'));
        assert.deepEqual(calls.issueCertificate[0].derived, { phone: ['+4915112345678'] });
      },
      { identifySystem },
    );
  });

  it('erases nothing while a provider cannot identify, and asks it again on retrySystem', async () => {
    let failures = 1;
    const { order, overrides } = ordered(async () => {
      if (failures-- > 0) throw ApplicationFailure.create({ type: failureTypes.configuration, nonRetryable: true, message: 'system "shop-db": its connector cannot identify' });
      return { userId: USER_IDS };
    });
    await run(
      input(shopPlan(), await now(), { subject: onlyEmail }),
      async (h, calls) => {
        const s = await until(h, (x) => x.status === 'needs_attention', 'needs attention');
        assert.match(s.systems.find((x) => x.id === 'shop-db')?.lastError ?? '', /identifying the subject failed/);
        assert.deepEqual(calls.escalate.map((e) => [e.reason, e.systemIds]), [['needs_attention', ['shop-db']]]);
        await bed.env.sleep(2 * DAY);
        assert.equal(calls.eraseSystem.length, 0, 'documents is not erased without the userId');
        await h.signal(retrySystemSignal, { system: 'shop-db' });
        assert.equal((await h.result()).status, 'completed');
        assert.deepEqual(order.slice(0, 2), ['identify:shop-db', 'identify:shop-db']);
        assert.deepEqual(derivedOf(calls.eraseSystem, 'documents'), [{ userId: USER_IDS }]);
        for (const v of USER_IDS) assert.ok(!leakText(calls, []).includes(v));
        await record('derived-identify-retry', h);
      },
      overrides,
    );
  });

  it('asks no provider while a legal hold is in place', async () => {
    const p = plan([automated('shop-db', { provides: ['userId'] })], { consumers: [{ id: 'analytics', critical: false, timeoutDays: 1 }] });
    await run(input(p, await now(), { subject: onlyEmail }), async (h, calls) => {
      await until(h, (s) => s.phase === 'coordinating', 'coordinating');
      await h.signal(placeLegalHoldSignal, { reason: 'litigation 2026-17', placedBy: 'legal@corp' });
      await h.signal(consumerCompletedSignal, { consumer: 'analytics', status: 'ok' });
      await until(h, (s) => s.status === 'on_hold' && s.phase === 'erasing', 'on hold, erasing');
      await bed.env.sleep(3 * DAY);
      assert.equal(calls.identifySystem.length, 0, 'identifying reads personal data: it waits for the hold too');
      await h.signal(releaseLegalHoldSignal, { releasedBy: 'legal@corp' });
      assert.equal((await h.result()).status, 'completed');
      assert.equal(calls.identifySystem.length, 1);
    });
  });

  it('keeps the derived identifiers across continue-as-new and identifies only once', async () => {
    const p = plan([automated('shop-db', { provides: ['userId'] }), manual('legacy-billing')]);
    const req = input(p, await now(), { subject: onlyEmail, continueAsNewAfterEvents: 40 });
    await run(
      req,
      async (h, calls) => {
        await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting');
        await bed.env.sleep(30 * DAY);
        await until(h, () => calls.sendReminder.length >= 9, 'reminders');
        const latest = bed.env.client.workflow.getHandle<typeof erasureWorkflow>(h.workflowId);
        assert.notEqual((await latest.describe()).runId, h.firstExecutionRunId, 'a new run took over');
        assert.deepEqual((await latest.query(statusQuery)).derived, { userId: 2 });
        await latest.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'ops' });
        assert.equal((await latest.result()).status, 'completed');
        assert.equal(calls.identifySystem.length, 1);
        assert.deepEqual(derivedOf(calls.notifySystem, 'legacy-billing'), [{ userId: USER_IDS }]);
        assert.deepEqual(calls.issueCertificate[0].derived, { userId: USER_IDS }, 'the new run still has them');
      },
      { identifySystem: async () => ({ userId: USER_IDS }) },
    );
  });
});
