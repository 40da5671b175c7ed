/**
 * Certificates belong to requests the ledger received: the issuer refuses any other (a workflow started by
 * hand in Temporal gets no signed proof), and `erasure ledger check` reports a certificate whose request the
 * ledger has no row of. Real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { createCertificateIssuer, generateSigningKey, loadKeyRing } from '../../src/certificate';
import { ExitCode, runLedgerCheck } from '../../src/cli/certificate';
import { failureTypes } from '../../src/domain';
import { createRequestRepository } from '../../src/ledger/requests';
import { certificateRequest, receiveRequests } from '../certificate/fixtures';
import { captureIo } from '../harness/cli-io';
import { useLedgerDatabase } from '../harness/ledger';

describe('certificates only for requests the ledger received (real PostgreSQL)', function () {
  const databases = useLedgerDatabase();

  async function setup() {
    const db = await databases.fresh();
    const keys = await loadKeyRing(db.pool, generateSigningKey());
    return { ...db, issuer: createCertificateIssuer({ pool: db.pool, keys }) };
  }
  const certificateCount = async (pool: import('pg').Pool) => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM certificates')).rows[0].n);

  it('refuses, for good, a request the ledger never received, or one received under another workflow id', async () => {
    const { pool, issuer } = await setup();
    await assert.rejects(issuer.issue(certificateRequest(1)), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, failureTypes.requestNotReceived);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /^cannot certify request req-1: the ledger never received it/);
      return true;
    });
    await receiveRequests(pool, 1);
    // The request's own input replayed under a workflow id of the attacker's choosing.
    await assert.rejects(issuer.issue(certificateRequest(1, { workflowId: 'erasure-copy' })), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, failureTypes.requestNotReceived);
      assert.match(err.message, /received it for another workflow id than erasure-copy/);
      return true;
    });
    assert.equal(await certificateCount(pool), 0);

    const { certificateId } = await issuer.issue(certificateRequest(1));
    assert.match(certificateId, /^cert_/);
    assert.equal(await certificateCount(pool), 1);
  });

  it('`ledger check` names every certificate without a received request and exits 1; intact otherwise', async () => {
    const { pool, url, issuer } = await setup();
    await receiveRequests(pool, 3);
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) ids.push((await issuer.issue(certificateRequest(i))).certificateId);
    const intact = captureIo();
    assert.equal(await runLedgerCheck({ databaseUrl: url }, intact.io), ExitCode.ok);
    assert.match(intact.out[0], /^ledger intact: 3 certificates/);

    // What a certificate issued for a hand-started workflow (before the issuer checked) leaves behind.
    await pool.query("DELETE FROM requests WHERE request_id IN ('req-1', 'req-3')");
    assert.deepEqual(await createRequestRepository(pool).certificatesWithoutRequest(), [
      { sequence: 1, certificateId: ids[0], requestId: 'req-1' },
      { sequence: 3, certificateId: ids[2], requestId: 'req-3' },
    ]);
    const c = captureIo({ DATABASE_URL: url });
    assert.equal(await runLedgerCheck({}, c.io), ExitCode.failed);
    assert.equal(c.code(), ExitCode.failed);
    assert.deepEqual(c.out, []);
    assert.equal(
      c.err[0],
      `ledger chain intact (3 certificates), but certificates for requests the ledger never received: #1 ${ids[0]} (request req-1), #3 ${ids[2]} (request req-3)`,
    );
  });
});
