/**
 * `ledger check` against a tampered ledger. The certificates table refuses UPDATE and DELETE, so each
 * tampering below runs as the database superuser with user triggers switched off for the session
 * (session_replication_role = replica): exactly what someone with full control of the database could do.
 */
import assert from 'node:assert/strict';
import type { Pool } from 'pg';
import { createCertificateIssuer, generateSigningKey, loadKeyRing } from '../../src/certificate';
import { checkLedger } from '../../src/certificate/chain';
import { certificateRequest, receiveRequests } from './fixtures';
import { asSuperuserBypassingTriggers, useLedgerDatabase } from '../harness/ledger';

describe('ledger check', function () {
  const ledger = useLedgerDatabase();

  /** A ledger of `n` certificates issued one after another. */
  async function ledgerOf(n: number): Promise<{ pool: Pool; ids: string[] }> {
    const { pool } = await ledger.fresh();
    const keys = await loadKeyRing(pool, generateSigningKey());
    const issuer = createCertificateIssuer({ pool, keys });
    await receiveRequests(pool, n);
    const ids: string[] = [];
    for (let i = 1; i <= n; i++) ids.push((await issuer.issue(certificateRequest(i))).certificateId);
    return { pool, ids };
  }

  it('finds an intact chain intact', async () => {
    const { pool, ids } = await ledgerOf(8);
    const result = await checkLedger(pool, { batchSize: 3 });
    assert.equal(result.ok, true);
    assert.equal(result.checked, 8);
    assert.equal(result.head?.sequence, 8);
    assert.equal(result.head?.certificateId, ids[7]);
  });

  it('reports a deleted certificate at the first certificate after the gap', async () => {
    const { pool, ids } = await ledgerOf(8);
    await asSuperuserBypassingTriggers(pool, [['DELETE FROM certificates WHERE sequence = 5']]);
    const result = await checkLedger(pool);
    assert.equal(result.ok, false);
    assert.deepEqual({ ...result.break, message: undefined }, { kind: 'missing', sequence: 6, certificateId: ids[5], message: undefined });
    assert.match(result.break!.message, /jumps from #4 to #6/);
    assert.match(result.break!.message, /#5 was deleted/);
    assert.equal(result.checked, 4);
  });

  it('reports a deletion even when the later certificates were renumbered to close the gap', async () => {
    const { pool, ids } = await ledgerOf(6);
    await asSuperuserBypassingTriggers(pool, [
      ['DELETE FROM certificates WHERE sequence = 3'],
      ['UPDATE certificates SET sequence = sequence - 1 WHERE sequence > 3'],
    ]);
    const result = await checkLedger(pool);
    assert.equal(result.break?.kind, 'missing');
    assert.equal(result.break?.sequence, 3);
    assert.equal(result.break?.certificateId, ids[3]);
    assert.match(result.break!.message, /position #3 holds a certificate issued as #4/);
  });

  it('reports the first certificate deleted', async () => {
    const { pool, ids } = await ledgerOf(3);
    await asSuperuserBypassingTriggers(pool, [['DELETE FROM certificates WHERE sequence = 1']]);
    const result = await checkLedger(pool);
    assert.deepEqual([result.break?.kind, result.break?.sequence, result.break?.certificateId], ['missing', 2, ids[1]]);
    assert.match(result.break!.message, /^the ledger starts at #2: .*#1 was deleted/);
  });

  it('reports the newest certificate deleted, which leaves no dangling link, from the audit trail', async () => {
    const { pool, ids } = await ledgerOf(4);
    await asSuperuserBypassingTriggers(pool, [['DELETE FROM certificates WHERE sequence = 4']]);
    const result = await checkLedger(pool);
    assert.equal(result.checked, 3);
    assert.deepEqual([result.break?.kind, result.break?.sequence, result.break?.certificateId], ['missing', 4, ids[3]]);
    assert.match(result.break!.message, /audit trail records, but is not in the ledger/);
  });

  it('reports two certificates swapped in the ledger as reordered, at the first of them', async () => {
    const { pool, ids } = await ledgerOf(6);
    await asSuperuserBypassingTriggers(pool, [
      ['UPDATE certificates SET sequence = 1000 WHERE sequence = 3'],
      ['UPDATE certificates SET sequence = 3 WHERE sequence = 4'],
      ['UPDATE certificates SET sequence = 4 WHERE sequence = 1000'],
    ]);
    const result = await checkLedger(pool);
    assert.deepEqual([result.break?.kind, result.break?.sequence, result.break?.certificateId], ['reordered', 3, ids[3]]);
    assert.match(result.break!.message, /position #3 holds a certificate issued as #4/);
    assert.match(result.break!.message, /follows the certificate now at #4, not the one at #2 — the ledger was reordered/);
    assert.equal(result.checked, 2);
  });

  it('reports a certificate moved to the end as reordered where it went missing', async () => {
    const { pool, ids } = await ledgerOf(5);
    await asSuperuserBypassingTriggers(pool, [['UPDATE certificates SET sequence = 9 WHERE sequence = 2']]);
    const result = await checkLedger(pool);
    assert.deepEqual([result.break?.kind, result.break?.sequence, result.break?.certificateId], ['reordered', 3, ids[2]]);
    assert.match(result.break!.message, /follows the certificate now at #9/);
  });

  it('reports a certificate whose content was edited, and one whose stored hash was edited', async () => {
    const { pool, ids } = await ledgerOf(4);
    await asSuperuserBypassingTriggers(pool, [["UPDATE certificates SET certificate = jsonb_set(certificate, '{systems,0,remaining}', '7') WHERE sequence = 2"]]);
    let result = await checkLedger(pool);
    assert.deepEqual([result.break?.kind, result.break?.sequence, result.break?.certificateId], ['altered', 2, ids[1]]);
    assert.match(result.break!.message, /signature does not match the content/);

    const other = await ledgerOf(4);
    await asSuperuserBypassingTriggers(other.pool, [[`UPDATE certificates SET hash = $1 WHERE sequence = 3`, ['f'.repeat(64)]]]);
    result = await checkLedger(other.pool);
    assert.deepEqual([result.break?.kind, result.break?.sequence], ['altered', 3]);
  });

  it('reports a certificate signed by a key the ledger does not know', async () => {
    const { pool } = await ledgerOf(2);
    const stranger = generateSigningKey();
    const result = await checkLedger(pool, { keys: [stranger] });
    assert.deepEqual([result.break?.kind, result.break?.sequence, result.checked], ['unknown_key', 1, 0]);
  });
});
