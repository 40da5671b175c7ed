/**
 * Nothing an operator (or anyone who can reach Temporal) sends can wedge a request: a flood of signals
 * leaves the state, and so the continue-as-new input, bounded, every action still reaches the ledger, and
 * a first run started by hand with `carried` state is refused. Java time-skipping server, recording mocks.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { AuditEvent } from '../../src/activities/types';
import { auditEventTypes, failureTypes, type OperatorActionEntry } from '../../src/domain';
import { erasureWorkflow } from '../../src/workflows';
import { KEPT_ACTIONS } from '../../src/workflows/action-log';
import { confirmDeletionSignal, placeLegalHoldSignal, releaseLegalHoldSignal, retrySystemSignal } from '../../src/workflows/definitions';
import { initialState } from '../../src/workflows/state';
import { automated, input, manual, plan } from '../harness/plans';
import { workflowTestbed } from './testbed';

/** Every action the workflow wrote to the ledger, deduplicated on `n` as the ledger's reader does. */
function ledgerActions(events: AuditEvent[]): OperatorActionEntry[] {
  const byNumber = new Map<number, OperatorActionEntry>();
  for (const e of events.filter((x) => x.type === auditEventTypes.operatorActions)) {
    for (const a of (e.detail as { actions: OperatorActionEntry[] }).actions) byNumber.set(a.n, a);
  }
  return [...byNumber.values()].sort((a, b) => a.n - b.n);
}

describe('bounded workflow state and refused carried state (time-skipping)', function () {
  const bed = workflowTestbed();
  const { run, record, until, now } = bed;

  it('keeps at most the latest actions through 2,000 signals, writes every one to the ledger, continues as new and completes', async function () {
    this.timeout(240_000);
    const total = 2000;
    const longText = 'x'.repeat(2000);
    const req = input(plan([manual('legacy-billing')]), await now(), { continueAsNewAfterEvents: 400 });
    await run(req, async (h, calls) => {
      const latest = bed.env.client.workflow.getHandle<typeof erasureWorkflow>(h.workflowId);
      await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting');
      // Holds with the longest reasons the schema allows, their releases, and signals that are refused.
      const send = (i: number) => {
        if (i % 4 === 0) return latest.signal(placeLegalHoldSignal, { reason: longText, placedBy: 'p'.repeat(256) });
        if (i % 4 === 1) return latest.signal(releaseLegalHoldSignal, { releasedBy: 'r'.repeat(256) });
        if (i % 4 === 2) return latest.signal(retrySystemSignal, { system: 's'.repeat(128) });
        return latest.signal(confirmDeletionSignal, { confirmedBy: 'x' } as never);
      };
      for (let i = 0; i < total; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => send(i + j)));
      await latest.signal(releaseLegalHoldSignal, { releasedBy: 'ops' });
      const s = await until(latest, (x) => x.actions.length > 0 && x.actions.at(-1)?.signal === 'releaseLegalHold' && x.actions.at(-1)?.by === 'ops', 'the last release');
      assert.ok(s.actions.length <= KEPT_ACTIONS, `state keeps ${s.actions.length} actions`);
      const folded = Object.values(s.earlierActions ?? {}).reduce((n, c) => n + c.accepted + c.refused, 0);
      assert.equal(folded + s.actions.length, total + 1, 'every action is either kept or counted');

      const desc = await latest.describe();
      assert.notEqual(desc.runId, h.firstExecutionRunId, 'the flood made the workflow continue as new');
      const history = await bed.env.client.workflow.getHandle(h.workflowId, desc.runId).fetchHistory();
      const carried = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data?.length ?? 0;
      assert.ok(carried > 0 && carried < 512 * 1024, `the continue-as-new input is ${carried} bytes`);

      await latest.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'ops' });
      assert.equal((await latest.result()).status, 'completed');
      const inLedger = ledgerActions(calls.recordEvent);
      assert.equal(inLedger.length, total + 2, 'the ledger holds every action, the confirmation included');
      assert.deepEqual(inLedger.map((a) => a.n), Array.from({ length: total + 2 }, (_, i) => i + 1));
      assert.ok(!inLedger.some((a) => JSON.stringify(a).includes(longText)), "the operator's free text stays out of the ledger");
      assert.ok(calls.issueCertificate[0].actions.length <= KEPT_ACTIONS);
    });
  });

  it('records a flood that outgrows the kept list across continue-as-new (replay history)', async () => {
    const req = input(plan([manual('legacy-billing')]), await now(), { continueAsNewAfterEvents: 60 });
    await run(req, async (h, calls) => {
      const latest = bed.env.client.workflow.getHandle<typeof erasureWorkflow>(h.workflowId);
      await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting');
      for (let i = 0; i < 80; i++) await latest.signal(retrySystemSignal, { system: 'legacy-billing' });
      await until(latest, (x) => (x.earlierActions?.retrySystem?.refused ?? 0) + x.actions.length === 80, 'eighty refusals');
      await latest.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'ops' });
      assert.equal((await latest.result()).status, 'completed');
      assert.equal(ledgerActions(calls.recordEvent).length, 81);
      assert.notEqual((await latest.describe()).runId, h.firstExecutionRunId);
      await record('operator-actions-ledger', bed.env.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId));
    });
  });

  it('continues as new while a legal hold keeps a finished erasure from its certificate, so signals cannot outgrow history', async () => {
    const req = input(plan([manual('legacy-billing')]), await now(), { continueAsNewAfterEvents: 150 });
    await run(req, async (h, calls) => {
      const latest = bed.env.client.workflow.getHandle<typeof erasureWorkflow>(h.workflowId);
      await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting');
      await latest.signal(placeLegalHoldSignal, { reason: 'litigation', placedBy: 'legal' });
      await latest.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'ops' });
      await until(latest, (s) => s.systems[0].status === 'erased' && s.status === 'on_hold', 'held before the certificate');
      for (let i = 0; i < 300; i += 30) await Promise.all(Array.from({ length: 30 }, () => latest.signal(retrySystemSignal, { system: 'nope' })));
      await until(latest, (x) => (x.earlierActions?.retrySystem?.refused ?? 0) + x.actions.length === 302, 'every refusal');
      // The hand-over waits for the last handlers and the action recorder, so it may follow the last refusal.
      const handedOver = async () => (await latest.describe()).runId !== h.firstExecutionRunId;
      for (const stop = Date.now() + 20_000; !(await handedOver()) && Date.now() < stop; ) await new Promise((r) => setTimeout(r, 100));
      assert.ok(await handedOver(), 'the held run handed over to a new one');
      assert.equal(calls.issueCertificate.length, 0, 'nothing is certified under the hold');
      await latest.signal(releaseLegalHoldSignal, { releasedBy: 'legal' });
      assert.equal((await latest.result()).status, 'completed');
      assert.equal(calls.issueCertificate.length, 1);
      await record('held-roll-over', bed.env.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId));
    });
  });

  it('fails a first run started with carried state, non-retryable, before it does anything', async () => {
    const p = plan([automated('customers-db'), manual('legacy-billing')]);
    const forged = input(p, await now());
    // What an attacker would carry: every system already verified, so the run would go straight to a certificate.
    const carried = initialState(forged);
    for (const s of Object.values(carried.systems)) s.status = 'verified';
    carried.phase = 'erasing';
    await run({ ...forged, carried }, async (h, calls) => {
      const err = await h.result().then(
        () => assert.fail('the forged run completed'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError, String(err));
      const cause = err.cause;
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, failureTypes.carriedStateRefused);
      assert.equal(cause.nonRetryable, true);
      assert.match(cause.message, /carried state is accepted only by a run that continues an erasure/);
      assert.equal(calls.issueCertificate.length, 0);
      assert.equal(calls.eraseSystem.length + calls.notifySystem.length + calls.recordEvent.length, 0);
      await record('carried-refused', h);
    });
  });
});
