/**
 * Bulk batches in the ledger (real PostgreSQL): the record of who was in a batch cannot be changed, names only
 * requests the ledger received, and is what the ledger writer checks a batch claim against: the same claim is
 * the key's on a request of the batch and rejected on any other.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { createAttestor } from '../../src/attestation';
import { createActivityAudit } from '../../src/ledger/audit';
import { batchesHolding, createBatchRepository, recordBatch } from '../../src/ledger/batches';
import { createRequestRepository } from '../../src/ledger/requests';
import { useLedgerDatabase } from '../harness/ledger';

const attestor = createAttestor(createSecretKey(randomBytes(32)));

describe('bulk batches in the ledger (real PostgreSQL)', () => {
  const ledger = useLedgerDatabase();

  async function withRequests(...ids: string[]) {
    const { pool } = await ledger.fresh();
    const requests = createRequestRepository(pool);
    const receivedAt = new Date();
    for (const requestId of ids) {
      await requests.insertQueued({
        requestId, workflowId: `erasure-${requestId}`, subjectRef: `subj_${requestId}`, jurisdiction: 'GDPR', bodyHash: 'h', receivedAt,
        deadline: new Date(receivedAt.getTime() + 30 * 86_400_000), pendingInput: { metadata: {}, data: '' }, receivedDetail: { subjectRef: `subj_${requestId}`, jurisdiction: 'GDPR', source: null },
      });
    }
    return { pool, requests };
  }
  const newBatch = (requestIds: string[], createdAt = new Date()) => ({
    batchId: `bulk-${randomUUID()}`, actor: 'ops', signal: 'confirmDeletion', fields: { system: 'crm' }, query: "WorkflowType = 'erasureWorkflow'", requestIds, createdAt,
  });

  it('keeps who was in a batch as recorded, and only requests the ledger received', async () => {
    const { pool } = await withRequests('req-a', 'req-b');
    const b = newBatch(['req-a']);
    await recordBatch(pool, b);
    await assert.rejects(pool.query('DELETE FROM bulk_batch_requests WHERE batch_id = $1', [b.batchId]), /append-only/);
    await assert.rejects(pool.query("UPDATE bulk_batch_requests SET request_id = 'req-b' WHERE batch_id = $1", [b.batchId]), /append-only/);
    await assert.rejects(recordBatch(pool, newBatch(['req-a', 'never-received'])), /foreign key/);
    assert.equal(Number((await pool.query('SELECT count(*) AS n FROM bulk_batches')).rows[0].n), 1, 'the refused batch left nothing behind');
    assert.deepEqual([...(await batchesHolding(pool, 'req-a', [b.batchId])).keys()], [b.batchId]);
    assert.deepEqual([...(await batchesHolding(pool, 'req-b', [b.batchId])).keys()], []);
    const repo = createBatchRepository(pool);
    const found = await repo.received(new Map([['req-a', 'erasure-req-a'], ['req-b', 'erasure-other'], ['req-x', 'erasure-req-x']]));
    assert.deepEqual([...found], ['req-a'], 'only a request received under that very workflow id');
    assert.deepEqual((await repo.find(b.batchId))?.requestCount, 1);
  });

  it("attributes a batch claim on a batch's request to the key and the batch, and rejects it on any other", async () => {
    const { pool, requests } = await withRequests('req-in', 'req-out');
    const b = newBatch(['req-in']);
    await recordBatch(pool, b);
    const claim = attestor.claimBatch({ batchId: b.batchId, signal: 'confirmDeletion', fields: { system: 'crm' } }, 'ops', b.createdAt);
    const audit = createActivityAudit({ pool, requests, attestor });
    const at = new Date(b.createdAt.getTime() + 2000).toISOString();
    const entry = { n: 1, at, signal: 'confirmDeletion', accepted: true, by: 'crm-team', system: 'crm', attestation: { ...claim, fields: { system: 'crm' } } };
    await audit.recordEvent({ requestId: 'req-in', type: 'operator.actions', detail: { actions: [entry] } });
    await audit.recordEvent({ requestId: 'req-out', type: 'operator.actions', detail: { actions: [entry] } });
    const trail = async (id: string) =>
      (await pool.query<{ detail: { actions: Array<Record<string, unknown>> } }>("SELECT detail FROM events WHERE request_id = $1 AND type = 'operator.actions'", [id])).rows[0].detail.actions[0];
    const inside = await trail('req-in');
    assert.deepEqual([inside.via, inside.actor, inside.batch, inside.claimRejected, inside.attestation], ['api', 'ops', b.batchId, undefined, undefined]);
    const outside = await trail('req-out');
    assert.deepEqual([outside.via, outside.actor, outside.batch, outside.claimRejected], ['temporal', undefined, undefined, true]);
    assert.deepEqual(await createBatchRepository(pool).outcomes(b.batchId), { accepted: 1, refused: 0 });
  });
});
