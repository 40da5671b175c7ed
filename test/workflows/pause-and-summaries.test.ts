/**
 * What the lead's issue-18 changes do inside the workflow, on the time-skipping server with mock activities:
 * a system paused for every request (the activity refuses with `SystemPausedError`, or a `systemPause` notice
 * arrives) waits without spending attempts and goes on at once when resumed; an erase in flight is stopped by a
 * pause like by a legal hold; timers and activities carry Web UI summaries and the current details follow the
 * state; a signal may carry the API's claim (bulk actions). Records the histories the replay suite keeps.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { failureTypes, type SystemTask } from '../../src/domain';
import { confirmDeletionSignal, systemPauseSignal } from '../../src/workflows/definitions';
import { automated, input, manual, plan } from '../harness/plans';
import { DAY, workflowTestbed } from './testbed';

const paused = () => ApplicationFailure.create({ type: failureTypes.systemPaused, nonRetryable: true, message: 'system "customers-db" is paused for every request' });
const erased = { action: 'delete' as const, found: 4, erased: 4, evidenceHash: 'e'.repeat(64) };
const HOUR = 3_600_000;

/** Counts of history events of one type for one activity type (scheduled, failed). */
async function activityEvents(h: { fetchHistory(): Promise<temporal.api.history.v1.IHistory> }, activityType: string) {
  const events = (await h.fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType);
  const ids = new Set(scheduled.map((e) => String(e.eventId)));
  const failed = events.filter((e) => e.activityTaskFailedEventAttributes && ids.has(String(e.activityTaskFailedEventAttributes.scheduledEventId)));
  return { scheduled: scheduled.length, failed: failed.length, events };
}

const summaryOf = (m: temporal.api.sdk.v1.IUserMetadata | null | undefined): string | undefined =>
  m?.summary ? (defaultPayloadConverter.fromPayload(m.summary) as string) : undefined;

describe('pause, Web UI summaries and signal claims in the workflow (time-skipping)', function () {
  const bed = workflowTestbed();
  const { run, record, until, now } = bed;

  it('waits while the system is paused, spends no attempt, shows paused, and goes on at once on the resume notice', async () => {
    const tasks: SystemTask[] = [];
    await run(
      input(plan([automated('customers-db')]), await now()),
      async (h, calls) => {
        const waiting = await until(h, (s) => s.status === 'paused', 'paused');
        assert.ok(waiting.systems[0].paused?.since, 'the system shows since when it is paused');
        assert.equal(waiting.systems[0].status, 'pending');
        assert.equal(waiting.systems[0].attempts, 0, 'a paused refusal is not an attempt');
        await bed.env.sleep(30 * 60_000);
        assert.equal(calls.eraseSystem.length, 1, 'nothing is retried while paused');
        await h.signal(systemPauseSignal, { system: 'customers-db', paused: false });
        const result = await h.result();
        assert.equal(result.status, 'completed');
        assert.equal(calls.eraseSystem.length, 2);
        assert.equal(result.receipts[0].attempts, 1);
        const { scheduled, failed } = await activityEvents(h, 'eraseSystem');
        assert.deepEqual({ scheduled, failed }, { scheduled: 2, failed: 1 }, 'one refusal, one erase: no retries spent');
        await record('pause-resume', h);
      },
      {
        async eraseSystem(task) {
          tasks.push(task);
          if (tasks.length === 1) throw paused();
          return erased;
        },
      },
    );
  });

  it('looks again hourly when no resume notice reaches it, and a verify refused while paused waits too', async () => {
    let erases = 0;
    let verifies = 0;
    await run(
      input(plan([automated('customers-db')]), await now()),
      async (h) => {
        await until(h, (s) => s.status === 'paused', 'paused before the erase');
        await bed.env.sleep(HOUR + 60_000);
        await until(h, (s) => s.phase === 'verifying' && s.status === 'paused', 'paused before the verify');
        await bed.env.sleep(HOUR + 60_000);
        const result = await h.result();
        assert.equal(result.status, 'completed');
        assert.deepEqual([erases, verifies], [2, 2]);
      },
      {
        async eraseSystem() {
          erases++;
          if (erases === 1) throw paused();
          return erased;
        },
        async verifySystem() {
          verifies++;
          if (verifies === 1) throw paused();
          return { remaining: 0 };
        },
      },
    );
  });

  it('a pause notice stops an erase in flight, and the erase after the resume continues from its progress', async () => {
    const progress = { op: 'erase', batches: 2, changed: 10, lineage: '1' };
    const tasks: SystemTask[] = [];
    await run(
      input(plan([automated('customers-db')]), await now()),
      async (h, calls) => {
        await until(h, (s) => s.systems[0].status === 'erasing', 'erasing');
        await h.signal(systemPauseSignal, { system: 'customers-db', paused: true });
        const stopped = await until(h, (s) => s.systems[0].interrupted !== undefined, 'stopped');
        assert.equal(stopped.status, 'paused');
        assert.deepEqual(stopped.systems[0].interrupted?.completed, { batches: 2, changed: 10 });
        await bed.env.sleep(20 * 60_000);
        assert.equal(calls.eraseSystem.length, 1, 'nothing runs while paused');
        // A notice for a system the request does not have, or a malformed one, changes nothing.
        await h.signal(systemPauseSignal, { system: 'no-such-system', paused: false });
        await h.signal(systemPauseSignal, { system: 'customers-db', paused: 'no' } as never);
        assert.equal((await until(h, () => true, 'status')).status, 'paused');
        await h.signal(systemPauseSignal, { system: 'customers-db', paused: false });
        assert.equal((await h.result()).status, 'completed');
        assert.deepEqual(tasks[1].resume, progress);
        await record('pause-stops-erase', h);
      },
      {
        async eraseSystem(task) {
          tasks.push(task);
          if (tasks.length > 1) return erased;
          const ctx = Context.current();
          for (;;) {
            ctx.heartbeat(progress);
            if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled', [progress]);
            await new Promise((r) => setTimeout(r, 50));
          }
        },
      },
    );
  });

  it('names timers and activities for the Web UI and keeps the current details in step with the state', async () => {
    await run(
      input(plan([manual('legacy-billing'), automated('customers-db')]), await now()),
      async (h) => {
        await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting');
        await bed.env.sleep(3 * DAY + HOUR);
        const meta = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
        const details = meta.currentDetails ?? '';
        assert.match(details, /\*\*Status: awaiting confirmation\*\*/);
        assert.match(details, /`customers-db` \| erased 4; verified once every system is erased/);
        assert.match(details, /`legacy-billing` \| \*\*awaiting confirmation\*\* \(1 reminder sent\)/);
        assert.ok(details.includes(`temporal workflow signal --workflow-id erasure-${h.workflowId.slice('erasure-'.length)} --name confirmDeletion --input '{"system":"legacy-billing","confirmedBy":"<your name>"}'`));
        assert.match(details, /Next: reminder to the owner of `legacy-billing`/);
        await h.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'billing-team' });
        assert.equal((await h.result()).status, 'completed');
        const { events } = await activityEvents(h, 'eraseSystem');
        const summaries = events.map((e) => summaryOf(e.userMetadata)).filter(Boolean);
        for (const s of ['legal deadline', 'erase customers-db', 'verify customers-db', 'ask the owner of legacy-billing to erase', 'reminder for legacy-billing', 'issue the certificate']) {
          assert.ok(summaries.includes(s), `a command is named "${s}" (have: ${summaries.join(', ')})`);
        }
        const final = (await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
        assert.match(final, /Status: completed/);
        assert.match(final, /Certificate `cert-/);
        await record('web-ui-summaries', h);
      },
      { eraseSystem: async () => erased },
    );
  });

  it("keeps a signal's claim (a bulk action's) as the action's attestation and applies the payload without it", async () => {
    const claim = { name: 'ops-bulk', issuedAt: new Date().toISOString(), mac: 'A'.repeat(43), batch: 'bulk-00000000-0000-4000-8000-000000000000' };
    await run(
      input(plan([manual('legacy-billing')]), await now()),
      async (h) => {
        await until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting');
        await h.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'bulk', claim } as never);
        const result = await h.result();
        assert.equal(result.status, 'completed');
        const receipt = result.receipts[0] as { attestation?: { name: string; batch?: string; fields: unknown } };
        assert.equal(receipt.attestation?.name, 'ops-bulk');
        assert.equal(receipt.attestation?.batch, claim.batch);
        assert.deepEqual(receipt.attestation?.fields, { system: 'legacy-billing' });
        await record('signal-claims', h);
      },
    );
  });
});
