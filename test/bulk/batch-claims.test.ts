/**
 * Batch claims, as pure functions: one claim for a whole bulk action verifies on a request only when the
 * ledger's record of the batch holds that request, names the same key, signal and time, and the action
 * arrived within the batch window; it never passes for a per-request claim, nor a per-request one for it.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { BATCH_CLAIM_WINDOW_MS, CLAIM_WINDOW_MS, createAttestor, type BatchRecord } from '../../src/attestation';
import { actorClaimSchema, claimedBatches } from '../../src/domain';

describe('batch claims (bulk actions)', () => {
  const attestor = createAttestor(createSecretKey(randomBytes(32)));
  const batchId = `bulk-${randomUUID()}`;
  const at = new Date('2026-12-02T10:00:00.000Z');
  const claim = attestor.claimBatch({ batchId, signal: 'confirmDeletion', fields: { system: 'crm' } }, 'crm-clerk', at);
  const kept = { ...claim, fields: { system: 'crm' } };
  const action = { requestId: 'req-1', signal: 'confirmDeletion', at: '2026-12-02T10:20:00.000Z', target: { system: 'crm' } };
  const record: BatchRecord = { batchId, actor: 'crm-clerk', signal: 'confirmDeletion', createdAt: at.toISOString() };
  const holding = new Map([[batchId, record]]);
  const rejected = { via: 'temporal', claimRejected: true };

  it('is a well-formed actor claim that names its batch', () => {
    assert.equal(actorClaimSchema.safeParse(claim).success, true);
    assert.equal(claim.batch, batchId);
    assert.equal(actorClaimSchema.safeParse({ ...claim, batch: 'bulk-1; DROP TABLE' }).success, false, 'the batch id has a pattern');
  });

  it('verifies on a request the recorded batch holds, naming the key and the batch', () => {
    assert.deepEqual(attestor.arrival(kept, action, holding), { via: 'api', actor: 'crm-clerk', batch: batchId });
  });

  it('is rejected on a request the ledger does not hold in the batch', () => {
    assert.deepEqual(attestor.arrival(kept, action, new Map()), rejected);
    assert.deepEqual(attestor.arrival(kept, action), rejected, 'nobody looked the batch up: rejected, not trusted');
  });

  it('is rejected when the record names another key, signal or time, or the claim was moved', () => {
    assert.deepEqual(attestor.arrival(kept, action, new Map([[batchId, { ...record, actor: 'operator' }]])), rejected);
    assert.deepEqual(attestor.arrival(kept, action, new Map([[batchId, { ...record, signal: 'retrySystem' }]])), rejected);
    assert.deepEqual(attestor.arrival(kept, action, new Map([[batchId, { ...record, createdAt: '2026-12-02T10:00:00.001Z' }]])), rejected);
    assert.deepEqual(attestor.arrival({ ...kept, fields: { system: 'billing' } }, { ...action, target: { system: 'billing' } }, holding), rejected, 'another system');
    assert.deepEqual(attestor.arrival({ ...kept, name: 'operator' }, action, new Map([[batchId, { ...record, actor: 'operator' }]])), rejected, 'another name');
    const other = `bulk-${randomUUID()}`;
    assert.deepEqual(attestor.arrival({ ...kept, batch: other }, action, new Map([[other, { ...record, batchId: other }]])), rejected, 'another batch');
  });

  it('counts freshness from the batch, over a longer window than a single claim', () => {
    const after = (ms: number) => new Date(at.getTime() + ms).toISOString();
    assert.ok(BATCH_CLAIM_WINDOW_MS > CLAIM_WINDOW_MS);
    assert.deepEqual(attestor.arrival(kept, { ...action, at: after(CLAIM_WINDOW_MS + 60_000) }, holding).via, 'api');
    assert.deepEqual(attestor.arrival(kept, { ...action, at: after(BATCH_CLAIM_WINDOW_MS + 1000) }, holding), rejected);
    assert.deepEqual(attestor.arrival(kept, { ...action, at: after(-5 * 60_000) }, holding), rejected, 'recorded before it was made');
  });

  it('never passes for a per-request claim, nor a per-request claim for a batch one', () => {
    // The same MAC presented without its batch: checked as a per-request claim, it does not verify.
    const { batch: _dropped, ...withoutBatch } = kept;
    assert.deepEqual(attestor.arrival(withoutBatch, action, holding), rejected);
    // A genuine per-request claim given a batch id it never named.
    const single = attestor.claim({ requestId: 'req-1', signal: 'confirmDeletion', fields: { system: 'crm' } }, 'crm-clerk', at);
    assert.deepEqual(attestor.arrival({ ...single, fields: { system: 'crm' } }, { ...action, at: '2026-12-02T10:00:01.000Z' }), { via: 'api', actor: 'crm-clerk' });
    assert.deepEqual(attestor.arrival({ ...single, batch: batchId, fields: { system: 'crm' } }, action, holding), rejected);
  });

  it('is rejected under another engine key', () => {
    const other = createAttestor(createSecretKey(randomBytes(32)));
    assert.deepEqual(other.arrival(kept, action, holding), rejected);
  });

  it('lists the well-formed batch ids among attestations, once each', () => {
    assert.deepEqual(claimedBatches([kept, undefined, { ...kept }, { ...kept, batch: 'not-a-batch' }, { ...kept, batch: undefined }]), [batchId]);
  });
});
