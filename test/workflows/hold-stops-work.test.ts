/**
 * A legal hold placed while an erase or a soft delete runs cancels it (patch `hold-stops-work-in-flight`):
 * the workflow waits for the activity to stop, keeps the progress its cancellation carries, shows it in the
 * status, and hands it to the activity that continues after the release. On the time-skipping server with
 * mock activities that heartbeat until cancelled, as connectors do between batches.
 */
import assert from 'node:assert/strict';
import { CancelledFailure, Context } from '@temporalio/activity';
import type { SystemTask } from '../../src/domain';
import { placeLegalHoldSignal, releaseLegalHoldSignal } from '../../src/workflows/definitions';
import { automated, input, plan } from '../harness/plans';
import { DAY, workflowTestbed } from './testbed';

/** An activity that works until cancelled, then stops with its progress, as `withProgress` reports it. */
async function busyUntilCancelled(progress: object): Promise<never> {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat(progress);
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled', [progress]);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a legal hold stops work in flight (time-skipping)', function () {
  const bed = workflowTestbed();
  const { run, record, until, now } = bed;

  it('cancels a running erase, shows what it completed, and resumes from it after the release', async () => {
    const progress = { op: 'erase', batches: 3, changed: 15, lineage: '1' };
    const tasks: SystemTask[] = [];
    await run(
      input(plan([automated('customers-db')]), await now()),
      async (h, calls) => {
        await until(h, (s) => s.systems[0].status === 'erasing', 'erasing');
        await h.signal(placeLegalHoldSignal, { reason: 'litigation', placedBy: 'legal@corp' });
        const held = await until(h, (s) => s.systems[0].interrupted !== undefined, 'stopped');
        assert.equal(held.status, 'on_hold');
        assert.equal(held.systems[0].status, 'pending');
        assert.deepEqual(held.systems[0].interrupted?.completed, { batches: 3, changed: 15 });
        assert.equal(held.systems[0].interrupted?.step, 'erase');
        assert.equal((held.systems[0] as { resume?: unknown }).resume, undefined, 'the resume point stays out of the status');
        await bed.env.sleep(3 * DAY);
        assert.equal(calls.eraseSystem.length, 1, 'nothing runs while held');
        await h.signal(releaseLegalHoldSignal, { releasedBy: 'legal@corp' });
        const result = await h.result();
        assert.equal(result.status, 'completed');
        assert.equal(tasks.length, 2);
        assert.equal(tasks[0].resume, undefined);
        assert.deepEqual(tasks[1].resume, progress, 'the continuing erase gets the stopped one\'s last progress');
        await record('hold-stops-erase', h);
      },
      {
        async eraseSystem(task) {
          tasks.push(task);
          if (tasks.length === 1) return busyUntilCancelled(progress);
          return { action: 'delete', found: 40, erased: 40, evidenceHash: 'e'.repeat(64) };
        },
      },
    );
  });

  it('cancels a running soft delete in the grace period and runs it again after the release', async () => {
    const p = plan([automated('customers-db', { softDelete: true })], { policy: { graceDays: 7 } });
    const progress = { op: 'softDelete', batches: 1, changed: 5, lineage: '1' };
    const tasks: SystemTask[] = [];
    await run(
      input(p, await now()),
      async (h) => {
        await until(h, () => tasks.length === 1, 'soft-deleting');
        await h.signal(placeLegalHoldSignal, { reason: 'litigation', placedBy: 'legal@corp' });
        const held = await until(h, (s) => s.systems[0].interrupted !== undefined, 'stopped');
        assert.equal(held.systems[0].interrupted?.step, 'softDelete');
        await h.signal(releaseLegalHoldSignal, { releasedBy: 'legal@corp' });
        await until(h, (s) => s.systems[0].status === 'soft_deleted', 'soft-deleted after the release');
        assert.deepEqual(tasks[1].resume, progress);
        await bed.env.sleep(8 * DAY);
        assert.equal((await h.result()).status, 'completed');
      },
      {
        async softDeleteSystem(task) {
          tasks.push(task);
          if (tasks.length === 1) return busyUntilCancelled(progress);
          return { affected: 5 };
        },
      },
    );
  });
});
