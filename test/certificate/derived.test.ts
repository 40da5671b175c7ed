/**
 * Derived identifiers in the certificate: committed to after the request's own, each marked `derived: true`,
 * covered by the signature, checkable by the subject, and never written in the clear.
 */
import assert from 'node:assert/strict';
import {
  buildCertificate,
  canonicalJson,
  certificateSchema,
  CertificateRequestError,
  commitSubject,
  derivedPairs,
  generateSigningKey,
  matchSubject,
  signCertificate,
  verifyCertificate,
  type ErasureCertificate,
} from '../../src/certificate';
import type { CertificateRequest } from '../../src/activities/types';
import { certificateRequest } from './fixtures';

const placement = {
  certificateId: 'cert_derived-1',
  sequence: 1,
  issuedAt: new Date('2026-03-12T17:30:01.000Z'),
  previousCertificateHash: null,
  engineVersion: '0.1.0',
};

/** A request that carried only an e-mail; the shop database found two user ids and a loyalty card. */
function derivedRequest(overrides: Partial<CertificateRequest> = {}): CertificateRequest {
  const subject = { email: 'ada.lovelace.9@analytical-engine.example' };
  const req = certificateRequest(9, { subject, derived: { 'custom.loyalty': ['LC-derived-55'], userId: ['uid-derived-42', 'uid-derived-17'] }, ...overrides });
  // A careless note names a derived value.
  req.receipts[1].note = 'removed account uid-derived-42 by hand';
  return req;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('derived identifiers in the certificate', () => {
  const key = generateSigningKey();
  let certificate: ErasureCertificate;

  before(async () => {
    certificate = await signCertificate(buildCertificate(derivedRequest(), placement), key);
  });

  it("commits to the request's identifiers, then to the derived ones marked derived, in a fixed order", async () => {
    const { identifiers } = certificate.subject.commitment;
    assert.deepEqual(
      identifiers.map((i) => [i.type, i.derived ?? false]),
      [['email', false], ['userId', true], ['userId', true], ['custom.loyalty', true]],
    );
    assert.equal(certificateSchema.safeParse(certificate).success, true);
    assert.equal((await verifyCertificate(clone(certificate), [key])).valid, true);
  });

  it('lets the subject check a derived identifier, and tells it apart from one they asked with', () => {
    const { commitment } = certificate.subject;
    assert.deepEqual(matchSubject(commitment, { email: 'ada.lovelace.9@analytical-engine.example', userId: 'uid-derived-17' }), [
      { type: 'email', result: 'match' },
      { type: 'userId', result: 'match', derived: true },
    ]);
    assert.deepEqual(matchSubject(commitment, { userId: 'uid-someone-else' }), [{ type: 'userId', result: 'mismatch' }]);
    assert.deepEqual(matchSubject(commitment, { phone: '+4915112345678' }), [{ type: 'phone', result: 'absent' }]);
  });

  it('never writes a derived value in the clear, even where a note mentions one', async () => {
    const text = await canonicalJson(certificate);
    for (const value of ['uid-derived-42', 'uid-derived-17', 'LC-derived-55']) assert.ok(!text.includes(value), 'a derived value is in the certificate');
    assert.equal(certificate.systems[1].note, 'removed account [redacted] by hand');
  });

  it('fails verification when a derived mark is removed, added or moved, or a derived digest changed', async () => {
    const removed = clone(certificate);
    delete removed.subject.commitment.identifiers[1].derived;
    const added = clone(certificate);
    added.subject.commitment.identifiers[0].derived = true;
    const swapped = clone(certificate);
    const ids = swapped.subject.commitment.identifiers;
    [ids[1], ids[2]] = [ids[2], ids[1]];
    const digest = clone(certificate);
    const d = digest.subject.commitment.identifiers[3];
    d.digest = `${d.digest.slice(0, -1)}${d.digest.endsWith('0') ? '1' : '0'}`;
    for (const [what, doc] of Object.entries({ removed, added, swapped, digest })) {
      const outcome = await verifyCertificate(doc, [key]);
      assert.equal(!outcome.valid && outcome.reason, 'bad_signature', `${what} still verified`);
    }
    const falseMark = clone(certificate) as unknown as { subject: { commitment: { identifiers: Array<Record<string, unknown>> } } };
    falseMark.subject.commitment.identifiers[0].derived = false;
    const outcome = await verifyCertificate(falseMark, [key]);
    assert.equal(!outcome.valid && outcome.reason, 'malformed', 'the mark is true or absent');
  });

  it('keeps certificates without derived identifiers exactly as before: no mark anywhere', async () => {
    const plain = await signCertificate(buildCertificate(certificateRequest(3), placement), key);
    assert.ok(plain.subject.commitment.identifiers.every((i) => !('derived' in i)));
    assert.equal((await verifyCertificate(clone(plain), [key])).valid, true);
  });

  it('commits nothing twice: a derived name the request carried is left out, values are deduplicated', () => {
    const subject = { email: 'ada@example.com', userId: 'u-1' };
    assert.deepEqual(derivedPairs(subject, { userId: ['u-2'], phone: ['+4915112345678', '+4915112345678'] }), [['phone', '+4915112345678']]);
    const commitment = commitSubject(subject, Buffer.alloc(32, 7), { userId: ['u-2'] });
    assert.deepEqual(commitment.identifiers.map((i) => i.type), ['email', 'userId']);
    assert.equal(commitment.identifiers[1].derived, undefined);
  });

  it('refuses a derived identifier of a type the engine does not know, without naming a value', () => {
    assert.throws(
      () => buildCertificate(derivedRequest({ derived: { 'bogus name': ['uid-derived-99'] } }), placement),
      (err: Error) => err instanceof CertificateRequestError && /unknown types: bogus name/.test(err.message) && !err.message.includes('uid-derived-99'),
    );
  });
});
