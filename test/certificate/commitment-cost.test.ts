/**
 * Subject commitments resist guessing: digests are scrypt at a cost the certificate states and signs, an
 * independent implementation (Python's hashlib) computes the same digest, certificates issued with SHA-256
 * still verify, and a commitment cannot lower the cost without breaking its signature or its schema.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { buildCertificate, certificateSchema, commitSubject, generateSigningKey, matchSubject, signCertificate, verifyCertificate, type ErasureCertificate } from '../../src/certificate';
import { COMMITMENT_COST, commitSubjectAsync } from '../../src/certificate/commitment';
import { subjectCommitmentSchema } from '../../src/certificate/schema';
import { certificateRequest } from './fixtures';

const salt = Buffer.alloc(32, 7);

describe('subject commitments resist guessing', function () {
  this.timeout(60_000);

  it('commits with scrypt at the stated cost, and Python\'s hashlib.scrypt gives the same digest', () => {
    const commitment = commitSubject({ phone: '+4915112345678', userId: '42' }, salt);
    assert.equal(commitment.algorithm, 'scrypt');
    assert.deepEqual(commitment.cost, COMMITMENT_COST);
    assert.ok(COMMITMENT_COST.N * COMMITMENT_COST.r * 128 >= 32 * 1024 * 1024, 'at least 32 MiB per guess');
    const script = [
      'import base64, hashlib, sys',
      's = base64.urlsafe_b64decode(sys.argv[1] + "=")',
      'print(hashlib.scrypt(sys.argv[2].encode() + b"\\0" + sys.argv[3].encode(), salt=s, n=int(sys.argv[4]), r=8, p=1, maxmem=2**27, dklen=32).hex())',
    ].join('\n');
    for (const { type, digest } of commitment.identifiers) {
      const value = type === 'phone' ? '+4915112345678' : '42';
      const python = execFileSync('python3', ['-c', script, commitment.salt, type, value, String(COMMITMENT_COST.N)], { encoding: 'utf8' }).trim();
      assert.equal(digest, python, `${type}: an independent scrypt agrees`);
    }
    // What the subject checks: a match for the true value, a mismatch for a neighbour.
    assert.deepEqual(matchSubject(commitment, { userId: '42' }), [{ type: 'userId', result: 'match' }]);
    assert.deepEqual(matchSubject(commitment, { userId: '43' }), [{ type: 'userId', result: 'mismatch' }]);
  });

  it('the issuer\'s off-the-event-loop commitment is the same digest for digest, derived identifiers included', async () => {
    const subject = { email: 'ada@example.com', userId: '42' };
    const derived = { phone: ['+4915112345678'], userId: ['99'] };
    const sync = commitSubject(subject, salt, derived);
    const async = await commitSubjectAsync(subject, salt, derived);
    assert.deepEqual(async, sync);
    assert.equal(async.identifiers.length, 3, 'email, userId and the derived phone (the derived userId is the subject\'s own type)');
    // A different salt gives different digests: the async path really uses the salt it is given.
    const other = await commitSubjectAsync(subject, Buffer.alloc(32, 8), derived);
    assert.notEqual(other.identifiers[0].digest, sync.identifiers[0].digest);
    await assert.rejects(commitSubjectAsync({} as never, salt), /at least one identifier/);
  });

  it('a certificate issued with SHA-256 before still verifies and still matches its subject', async () => {
    const key = generateSigningKey();
    const digest = createHash('sha256').update(salt).update('email').update(Buffer.of(0)).update('ada@example.com').digest('hex');
    const old = { algorithm: 'sha-256' as const, salt: salt.toString('base64url'), identifiers: [{ type: 'email', digest }] };
    assert.ok(subjectCommitmentSchema.safeParse(old).success);
    const unsigned = buildCertificate(certificateRequest(1), { certificateId: 'cert_old-1', sequence: 1, issuedAt: new Date('2026-03-12T17:30:01.000Z'), previousCertificateHash: null, engineVersion: '0.1.0' });
    const cert: ErasureCertificate = await signCertificate({ ...unsigned, subject: { commitment: old } }, key);
    assert.equal((await verifyCertificate(cert, [key])).valid, true);
    assert.deepEqual(matchSubject(cert.subject.commitment, { email: 'ada@example.com' }), [{ type: 'email', result: 'match' }]);
  });

  it('lowering the cost breaks the signature, and the schema refuses a missing or unbounded cost', async () => {
    const key = generateSigningKey();
    const unsigned = buildCertificate(certificateRequest(1), { certificateId: 'cert_cost-1', sequence: 1, issuedAt: new Date('2026-03-12T17:30:01.000Z'), previousCertificateHash: null, engineVersion: '0.1.0' });
    assert.equal(unsigned.subject.commitment.algorithm, 'scrypt');
    const cert = await signCertificate(unsigned, key);
    assert.equal((await verifyCertificate(cert, [key])).valid, true);
    const cheaper = structuredClone(cert);
    cheaper.subject.commitment.cost = { N: 2 ** 14, r: 8, p: 1 };
    assert.equal((await verifyCertificate(cheaper, [key])).valid, false);
    const { cost: _cost, ...noCost } = cert.subject.commitment;
    assert.equal(subjectCommitmentSchema.safeParse(noCost).success, false, 'scrypt needs its cost');
    assert.equal(subjectCommitmentSchema.safeParse({ ...cert.subject.commitment, cost: { N: 2 ** 24, r: 8, p: 1 } }).success, false, 'a verifier never spends unbounded memory');
    assert.equal(subjectCommitmentSchema.safeParse({ ...cert.subject.commitment, cost: { N: 2 ** 10, r: 8, p: 1 } }).success, false, 'nor accepts a cheap one');
    assert.ok(certificateSchema.safeParse(cert).success);
  });
});
