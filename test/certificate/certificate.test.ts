/**
 * The certificate on its own: what is signed, what verifies, what the subject commitment reveals.
 * No database here; the ledger's side is in issuer.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { CertificateRequest } from '../../src/activities/types';
import {
  buildCertificate,
  canonicalJson,
  certificateHash,
  CertificateRequestError,
  commitSubject,
  generateSigningKey,
  jwks,
  matchSubject,
  publicKeysFromJwks,
  signCertificate,
  signedBytes,
  verifyCertificate,
  type ErasureCertificate,
  type SigningKey,
} from '../../src/certificate';
import { certificateRequest, identifierValues, subjectOf } from './fixtures';

async function issueInMemory(req: CertificateRequest, key: SigningKey, sequence = 1, previous: string | null = null): Promise<ErasureCertificate> {
  const unsigned = buildCertificate(req, {
    certificateId: `cert_${randomUUID()}`,
    sequence,
    issuedAt: new Date('2026-03-12T17:30:01.000Z'),
    previousCertificateHash: previous,
    engineVersion: '0.1.0',
  });
  return signCertificate(unsigned, key);
}

/** Reverses every object's key order, as a database's JSON type or another serializer might. */
function shuffleKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shuffleKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, shuffleKeys(x)]));
  return v;
}

describe('erasure certificate', () => {
  const key = generateSigningKey();
  let certificate: ErasureCertificate;

  before(async () => {
    certificate = await issueInMemory(certificateRequest(1), key);
  });

  it('verifies against its signing key, served as a JWKS, whatever the key order of the JSON', async () => {
    const keys = publicKeysFromJwks(JSON.parse(JSON.stringify(jwks([key]))));
    const outcome = await verifyCertificate(JSON.parse(JSON.stringify(shuffleKeys(certificate))), keys);
    assert.equal(outcome.valid, true, outcome.valid ? '' : outcome.message);
    assert.equal(certificate.signature.keyId, key.keyId);
    assert.equal(certificate.signature.algorithm, 'Ed25519');
  });

  it('signs RFC 8785 canonical JSON that covers the key id but not the signature value', async () => {
    const bytes = (await signedBytes(certificate)).toString('utf8');
    assert.equal(bytes, await canonicalJson({ ...certificate, signature: { algorithm: 'Ed25519', keyId: key.keyId } }));
    assert.ok(!bytes.includes(certificate.signature.value));
    assert.ok(bytes.includes(`"keyId":"${key.keyId}"`));
    assert.match(bytes, /^\{"certificateId":/, 'keys sorted, no whitespace');
  });

  it('fails verification when any single byte of the signed content is flipped, at every position', async () => {
    const bytes = await signedBytes(certificate);
    const keys = [key];
    const refused = { notJson: 0, malformed: 0, unknown_key: 0, bad_signature: 0 };
    for (let i = 0; i < bytes.length; i++) {
      const tampered = Buffer.from(bytes);
      tampered[i] ^= 1 << (i % 8); // a different bit at each position, all eight in turn
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(tampered.toString('utf8'));
      } catch {
        refused.notJson++;
        continue;
      }
      // Put the original signature value back wherever the signature object now is.
      const signature = doc.signature && typeof doc.signature === 'object' ? doc.signature : {};
      doc.signature = { ...signature, value: certificate.signature.value };
      const outcome = await verifyCertificate(doc, keys);
      assert.equal(outcome.valid, false, `flipping byte ${i} (${JSON.stringify(bytes.toString('utf8', Math.max(0, i - 20), i + 20))}) still verified`);
      if (!outcome.valid) refused[outcome.reason]++;
    }
    const total = Object.values(refused).reduce((a, b) => a + b, 0);
    assert.equal(total, bytes.length);
    // Most flips keep valid JSON and fail on the schema or the signature itself.
    assert.ok(refused.bad_signature > bytes.length / 4, JSON.stringify(refused));
  });

  it('fails verification when any bit of the certificate file is flipped, signature included', async () => {
    const file = Buffer.from(JSON.stringify(certificate, null, 2));
    for (let i = 0; i < file.length; i++) {
      for (const bit of [0, 5]) {
        const tampered = Buffer.from(file);
        tampered[i] ^= 1 << bit;
        let doc: unknown;
        try {
          doc = JSON.parse(tampered.toString('utf8'));
        } catch {
          continue;
        }
        const outcome = await verifyCertificate(doc, [key]);
        assert.equal(outcome.valid, false, `flipping bit ${bit} of file byte ${i} still verified`);
      }
    }
  });

  it('does not verify with another key, and names the key it needs', async () => {
    const other = generateSigningKey();
    const outcome = await verifyCertificate(certificate, [other]);
    assert.equal(outcome.valid, false);
    assert.equal(!outcome.valid && outcome.reason, 'unknown_key');
    assert.match(!outcome.valid ? outcome.message : '', new RegExp(key.keyId));

    // Another key under the certificate's key id: the signature itself fails.
    const impostor = await verifyCertificate(certificate, [{ keyId: key.keyId, publicKey: other.publicKey }]);
    assert.equal(!impostor.valid && impostor.reason, 'bad_signature');
  });

  it('refuses documents that are not certificates, naming the field and never a value', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /\(root\)/],
      [{ ...certificate, format: 'erasure-certificate/v0' }, /format/],
      [{ ...certificate, extra: 'ada@example.com' }, /extra/],
      [{ ...certificate, sequence: 0 }, /sequence/],
      [{ ...certificate, signature: { ...certificate.signature, value: 'abc' } }, /signature\.value/],
    ];
    for (const [doc, field] of cases) {
      const outcome = await verifyCertificate(doc, [key]);
      assert.equal(outcome.valid, false);
      assert.equal(!outcome.valid && outcome.reason, 'malformed');
      assert.match(!outcome.valid ? outcome.message : '', field);
      assert.ok(!(!outcome.valid && outcome.message.includes('ada@example.com')));
    }
  });

  it('carries one entry per system with its receipt, the operator actions, the times and the engine version', () => {
    const c = certificate;
    assert.deepEqual(c.systems.map((s) => [s.systemId, s.found, s.erased, s.remaining, s.attempts]), [
      ['customers-db', 14, 14, 0, 2],
      ['legacy-billing', 1, 1, 0, 1],
    ]);
    assert.equal(c.systems[1].confirmedBy, 'billing-team:grace');
    assert.deepEqual(c.operatorActions.map((a) => a.signal), ['placeLegalHold', 'releaseLegalHold', 'confirmDeletion']);
    assert.deepEqual(c.consumers.map((x) => [x.consumerId, x.status]), [['analytics', 'ok'], ['archive', 'ok']]);
    assert.deepEqual(c.request, {
      requestId: 'req-1',
      workflowId: 'erasure-req-1',
      runId: 'run-1-b',
      firstRunId: 'run-1-a',
      jurisdiction: 'GDPR',
      receivedAt: '2026-03-01T09:00:00.000Z',
      deadline: '2026-03-31T09:00:00.000Z',
      deadlineExtended: false,
      completedAt: '2026-03-12T17:30:00.000Z',
    });
    assert.equal(c.engineVersion, '0.1.0');
    assert.equal(c.previousCertificateHash, null);
  });

  it("never contains the subject's identifiers, even when notes, references and signal details mention them", async () => {
    const subject = subjectOf(1);
    const text = (await canonicalJson(certificate)).toLowerCase();
    for (const value of [...identifierValues(subject), subject.phone!.slice(1)]) {
      assert.ok(!text.includes(value.toLowerCase()), `found an identifier in the certificate`);
    }
    assert.match(certificate.systems[1].note!, /removed account \[redacted\] and card \[redacted\]/);
    assert.equal(certificate.systems[1].reference, 'TICKET-4711 for [redacted]');
    assert.equal(certificate.consumers[0].note, 'done with [redacted]');
  });

  it('commits to each identifier so the subject can check theirs, and nobody can link two certificates', async () => {
    const subject = subjectOf(1);
    const { commitment } = certificate.subject;
    assert.deepEqual(commitment.identifiers.map((i) => i.type), ['email', 'userId', 'phone', 'custom.loyaltyCard']);
    assert.deepEqual(matchSubject(commitment, subject).map((m) => m.result), ['match', 'match', 'match', 'match']);
    assert.deepEqual(matchSubject(commitment, { email: 'someone.else@example.com' }), [{ type: 'email', result: 'mismatch' }]);
    assert.deepEqual(matchSubject(commitSubject({ userId: 'u-1' }), { email: 'ada@example.com' }), [{ type: 'email', result: 'absent' }]);

    const again = await issueInMemory(certificateRequest(1), key);
    assert.notEqual(again.subject.commitment.salt, commitment.salt);
    assert.notEqual(again.subject.commitment.identifiers[0].digest, commitment.identifiers[0].digest);
  });

  it('links to the previous certificate by the hash of its canonical JSON, signature included', async () => {
    const previousHash = await certificateHash(certificate);
    assert.match(previousHash, /^[0-9a-f]{64}$/);
    const next = await issueInMemory(certificateRequest(2), key, 2, previousHash);
    assert.equal(next.previousCertificateHash, previousHash);
    assert.equal(await certificateHash(shuffleKeys(certificate) as ErasureCertificate), previousHash);
    const resigned = await signCertificate(certificate, generateSigningKey());
    assert.notEqual(await certificateHash(resigned), previousHash);
  });

  it('refuses to build from a request with an unusable time, without retrying', () => {
    assert.throws(
      () => buildCertificate(certificateRequest(3, { completedAt: 'yesterday' }), { certificateId: 'c', sequence: 1, issuedAt: new Date(), previousCertificateHash: null, engineVersion: '0' }),
      (err: unknown) => err instanceof CertificateRequestError && /completedAt/.test(err.message),
    );
  });
});
