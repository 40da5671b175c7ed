/**
 * The lean orchestration (patch `lean-orchestration`), on the time-skipping server with mock activities:
 * phase events written together (one local activity before the erase, the last phases in the certificate's
 * transaction), search attributes updated once per activation, and verification taken from the erase's own
 * count. What must not change: the trail's order, a verification round that finds data left, the fallback to
 * a verify activity, and that phases are written before an escalation. Records the histories the replay suite keeps.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/activity';
import { temporal } from '@temporalio/proto';
import type { AuditEvent } from '../../src/activities/types';
import { LEAN_ORCHESTRATION } from '../../src/workflows/run';
import { automated, input, plan } from '../harness/plans';
import { workflowTestbed } from './testbed';

const erased = { action: 'delete' as const, found: 4, erased: 4, evidenceHash: 'e'.repeat(64) };
const types = (events: AuditEvent[] | undefined) => (events ?? []).map((e) => e.type);

/** What a history holds of the commands the change is about. */
async function commandCounts(h: { fetchHistory(): Promise<temporal.api.history.v1.IHistory> }) {
  const events = (await h.fetchHistory()).events ?? [];
  const T = temporal.api.enums.v1.EventType;
  const count = (t: temporal.api.enums.v1.EventType) => events.filter((e) => e.eventType === t).length;
  const markers = events.filter((e) => e.eventType === T.EVENT_TYPE_MARKER_RECORDED).map((e) => e.markerRecordedEventAttributes?.markerName);
  const patches = events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => (JSON.parse(Buffer.from(e.markerRecordedEventAttributes!.details!['patch-data'].payloads![0].data!).toString()) as { id: string }).id);
  return {
    events: events.length,
    workflowTasks: count(T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    // The engine's own updates (the SDK adds one of TemporalChangeVersion per patch marker).
    upserts: events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.ErasureStatus).length,
    localActivities: markers.filter((m) => m === 'core_local_activity').length,
    activities: events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name),
    patches,
  };
}

describe('lean orchestration in erasureWorkflow (time-skipping)', function () {
  const bed = workflowTestbed();
  const { run, record, now } = bed;

  it('three systems: one batch of phase events, no verify activity, the last phases in the certificate, few updates', async () => {
    await run(
      input(plan([automated('customers-db'), automated('files'), automated('search')]), await now()),
      async (h, calls) => {
        const result = await h.result();
        assert.equal(result.status, 'completed');
        assert.equal(calls.verifySystem.length, 0, 'the erase counted what was left: no verify activity');
        assert.ok(result.receipts.every((r) => r.remaining === 0), 'each receipt carries the count');
        assert.equal(calls.recordEvents.length, 1, 'the phases before the erase went in one batch');
        assert.deepEqual(types(calls.recordEvents[0]), ['accepted', 'phase.coordinating', 'phase.erasing']);
        assert.equal(calls.recordEvent.filter((e) => !calls.recordEvents[0].includes(e)).length, 3, 'nothing else went through recordEvent but what the certificate carried');
        const [cert] = calls.issueCertificate;
        assert.deepEqual(types(cert.events?.before), ['phase.verifying', 'phase.certifying']);
        assert.deepEqual(types(cert.events?.after), ['phase.completed']);
        const counts = await commandCounts(h);
        assert.ok(counts.patches.includes(LEAN_ORCHESTRATION), 'the run is marked lean');
        assert.equal(counts.localActivities, 1);
        assert.deepEqual(counts.activities.filter((a) => a !== 'eraseSystem'), ['issueCertificate']);
        assert.equal(counts.activities.filter((a) => a === 'eraseSystem').length, 3);
        // About one update per workflow task, never one per state change (one per state change before the patch): the start,
        // the certificate being issued, the end.
        assert.ok(counts.upserts <= counts.workflowTasks + 1, `${counts.upserts} upserts over ${counts.workflowTasks} workflow tasks`);
        const status = await h.describe();
        assert.equal(status.searchAttributes.ErasureStatus?.[0], 'completed', 'the list shows the last state');
        assert.deepEqual(status.searchAttributes.ErasurePendingSystems ?? [], []);
        await record('lean-orchestration', h);
      },
      { eraseSystem: async () => ({ ...erased, verified: { remaining: 0 } }) },
    );
  });

  it('a count that finds data left sends the system back to erase, still without a verify activity', async () => {
    let erases = 0;
    await run(
      input(plan([automated('customers-db')]), await now()),
      async (h, calls) => {
        const result = await h.result();
        assert.equal(result.status, 'completed');
        assert.equal(erases, 2);
        assert.equal(calls.verifySystem.length, 0);
        assert.equal(result.receipts[0].found, 8, 'found adds up over the two rounds');
        assert.equal(result.receipts[0].remaining, 0);
        // The second round's phases (verifying, erasing) were written before its erase, in order.
        assert.deepEqual(calls.recordEvents.map(types), [['accepted', 'phase.coordinating', 'phase.erasing'], ['phase.verifying', 'phase.erasing']]);
        await record('lean-verify-rounds', h);
      },
      {
        async eraseSystem() {
          erases++;
          return { ...erased, verified: { remaining: erases === 1 ? 2 : 0 } };
        },
      },
    );
  });

  it('an erase whose count failed is verified by the verify activity, as before', async () => {
    await run(input(plan([automated('customers-db')]), await now()), async (h, calls) => {
      const result = await h.result();
      assert.equal(result.status, 'completed');
      assert.equal(calls.verifySystem.length, 1, 'no count came back with the erase');
    });
  });

  it('the phases reach the trail before an escalation writes its own event', async () => {
    const order: string[] = [];
    await run(
      input(plan([automated('customers-db')]), await now()),
      async (h) => {
        await bed.until(h, (s) => s.status === 'needs_attention', 'needs attention');
        assert.deepEqual(order, ['recordEvents:accepted,phase.coordinating,phase.erasing', 'eraseSystem', 'escalate:needs_attention']);
        await h.cancel();
      },
      {
        async recordEvents(events) {
          order.push(`recordEvents:${types(events).join(',')}`);
        },
        async eraseSystem() {
          order.push('eraseSystem');
          throw ApplicationFailure.create({ type: 'ConfigurationError', nonRetryable: true, message: 'the table is gone' });
        },
        async escalate(e) {
          order.push(`escalate:${e.reason}`);
        },
      },
    );
  });
});
