/** Issuing certificates into the real ledger: chain, idempotency, concurrency, keys, privacy. */
import assert from 'node:assert/strict';
import type { Pool } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import {
  createCertificateIssuer,
  generateSigningKey,
  getCertificate,
  jwks,
  loadKeyRing,
  loadPublicKeys,
  publicKeysFromJwks,
  verifyCertificate,
  type ErasureCertificate,
} from '../../src/certificate';
import { checkLedger } from '../../src/certificate/chain';
import { createPool } from '../../src/ledger/db';
import { listEvents } from '../../src/ledger/events';
import { useLedgerDatabase } from '../harness/ledger';
import { certificateRequest, identifierValues, receiveRequests, subjectOf } from './fixtures';

describe('certificate issuer (real PostgreSQL)', function () {
  const databases = useLedgerDatabase();

  /** A fresh ledger with requests 1…`received` recorded, since only a received request is certified. */
  async function setup(received = 50) {
    const db = await databases.fresh({ max: 20 });
    const keys = await loadKeyRing(db.pool, generateSigningKey());
    await receiveRequests(db.pool, received);
    return { ...db, keys, issuer: createCertificateIssuer({ pool: db.pool, keys, engineVersion: '9.9.9' }) };
  }

  async function ledger(pool: Pool) {
    const { rows } = await pool.query<{ sequence: string; hash: string; previous_hash: string | null; certificate: ErasureCertificate }>(
      'SELECT sequence, hash, previous_hash, certificate FROM certificates ORDER BY sequence',
    );
    return rows;
  }

  it('issues a certificate that verifies against the published keys, records it on the request and in the trail', async () => {
    const { pool, keys, issuer } = await setup(0);
    await pool.query(
      `INSERT INTO requests (request_id, workflow_id, subject_ref, jurisdiction, status, body_hash, received_at, deadline)
       VALUES ('req-1', 'erasure-req-1', 'subj_x', 'GDPR', 'running', 'h', now(), now() + interval '30 days')`,
    );
    const { certificateId } = await issuer.issue(certificateRequest(1));
    const certificate = await getCertificate(pool, 'req-1');
    assert.ok(certificate);
    assert.equal(certificate.certificateId, certificateId);
    assert.equal(certificate.sequence, 1);
    assert.equal(certificate.previousCertificateHash, null);
    assert.equal(certificate.engineVersion, '9.9.9');

    const published = publicKeysFromJwks(JSON.parse(JSON.stringify(jwks(await loadPublicKeys(pool)))));
    const outcome = await verifyCertificate(certificate, published);
    assert.equal(outcome.valid, true, outcome.valid ? '' : outcome.message);
    assert.equal(certificate.signature.keyId, keys.signing.keyId);

    const { rows } = await pool.query('SELECT certificate_id, completed_at FROM requests WHERE request_id = $1', ['req-1']);
    assert.equal(rows[0].certificate_id, certificateId);
    assert.equal(rows[0].completed_at.toISOString(), '2026-03-12T17:30:00.000Z');
    const trail = await listEvents(pool, 'req-1');
    assert.deepEqual(trail.map((e) => [e.type, e.detail.certificateId, e.detail.sequence]), [['certificate.issued', certificateId, 1]]);
    assert.equal(await getCertificate(pool, 'req-unknown'), undefined);
  });

  it('returns the same certificate when the activity is retried, one after another or at the same time', async () => {
    const { pool, issuer } = await setup();
    const first = await issuer.issue(certificateRequest(1));
    const retried = await issuer.issue(certificateRequest(1, { completedAt: '2026-03-13T00:00:00.000Z' }));
    assert.deepEqual(retried, first);
    const racing = await Promise.all(Array.from({ length: 10 }, () => issuer.issue(certificateRequest(2))));
    assert.equal(new Set(racing.map((r) => r.certificateId)).size, 1);
    assert.equal((await ledger(pool)).length, 2);
    assert.equal((await pool.query("SELECT 1 FROM events WHERE type = 'certificate.issued'")).rowCount, 2);
  });

  it('chains 50 certificates issued concurrently into one unbroken chain', async function () {
    const { pool, url, keys } = await setup();
    // Five issuers with pools of their own stand for five worker processes sharing the ledger.
    const pools = Array.from({ length: 5 }, () => createPool({ connectionString: url, max: 10 }));
    const issuers = pools.map((p) => createCertificateIssuer({ pool: p, keys }));
    const started = Date.now();
    const issued = await Promise.all(Array.from({ length: 50 }, (_, i) => issuers[i % 5].issue(certificateRequest(i + 1)))).finally(() =>
      Promise.all(pools.map((p) => p.end())),
    );
    const elapsed = Date.now() - started;
    assert.equal(new Set(issued.map((r) => r.certificateId)).size, 50);

    const rows = await ledger(pool);
    assert.deepEqual(rows.map((r) => Number(r.sequence)), Array.from({ length: 50 }, (_, i) => i + 1));
    rows.forEach((row, i) => {
      assert.equal(row.certificate.sequence, i + 1);
      assert.equal(row.certificate.previousCertificateHash, i === 0 ? null : rows[i - 1].hash, `link ${i + 1}`);
      assert.equal(row.previous_hash, row.certificate.previousCertificateHash);
    });
    assert.equal(new Set(rows.map((r) => r.previous_hash)).size, 50, 'no two certificates share a predecessor');
    const check = await checkLedger(pool);
    assert.deepEqual({ ok: check.ok, checked: check.checked }, { ok: true, checked: 50 });
    this.test!.title += ` (${elapsed} ms)`;
  });

  it("never stores a subject's plaintext identifiers, in any certificate or anywhere else in the ledger", async () => {
    const { pool, issuer } = await setup();
    await Promise.all(Array.from({ length: 10 }, (_, i) => issuer.issue(certificateRequest(i + 1))));
    const dump = (
      await pool.query<{ t: string }>(
        "SELECT string_agg(c::text, ' ') AS t FROM (SELECT certificate::text AS c FROM certificates UNION ALL SELECT detail::text FROM events UNION ALL SELECT public_jwk::text FROM signing_keys) x",
      )
    ).rows[0].t.toLowerCase();
    assert.ok(dump.length > 10_000);
    for (let i = 1; i <= 10; i++) {
      const subject = subjectOf(i);
      for (const value of [...identifierValues(subject), subject.phone!.slice(1)]) {
        assert.ok(!dump.includes(value.toLowerCase()), `subject ${i}'s identifier found in the ledger`);
      }
    }
  });

  it('keeps verifying certificates signed before a key rotation', async () => {
    const { pool, keys: before } = await setup();
    await createCertificateIssuer({ pool, keys: before }).issue(certificateRequest(1));
    const after = await loadKeyRing(pool, generateSigningKey());
    assert.deepEqual(after.publicKeys.map((k) => [k.keyId, k.retiredAt === null]), [
      [after.signing.keyId, true],
      [before.signing.keyId, false],
    ]);
    await createCertificateIssuer({ pool, keys: after }).issue(certificateRequest(2));

    const published = publicKeysFromJwks(jwks(after));
    assert.deepEqual(published.map((k) => k.keyId), [after.signing.keyId, before.signing.keyId]);
    const [one, two] = [await getCertificate(pool, 'req-1'), await getCertificate(pool, 'req-2')];
    assert.equal(one!.signature.keyId, before.signing.keyId);
    assert.equal(two!.signature.keyId, after.signing.keyId);
    for (const c of [one, two]) assert.equal((await verifyCertificate(c, published)).valid, true);
    assert.equal((await checkLedger(pool)).ok, true);
  });

  it('fails for good on a request it cannot certify, leaving the chain untouched', async () => {
    const { pool, issuer } = await setup();
    await issuer.issue(certificateRequest(1));
    await assert.rejects(
      issuer.issue(certificateRequest(2, { receivedAt: 'not a time' })),
      (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable && err.type === 'InvalidCertificateRequest' && /receivedAt/.test(err.message),
    );
    await issuer.issue(certificateRequest(3));
    const rows = await ledger(pool);
    assert.deepEqual(rows.map((r) => r.certificate.request.requestId), ['req-1', 'req-3']);
    assert.equal((await checkLedger(pool)).ok, true);
  });
});
