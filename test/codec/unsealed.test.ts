/**
 * What the engine never writes in plaintext is refused when it arrives so: a payload carrying a subject,
 * a plan or carried state that the codec did not encrypt (a workflow started by hand with JSON input)
 * decodes to a refusal, while operators' plaintext signals pass as they are. Real PostgreSQL key store;
 * the same refusal through the real worker and the `temporal` CLI is in test/e2e/trust-boundary.test.ts.
 */
import assert from 'node:assert/strict';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, isRefusedPayload, type RefusedPayloadValue } from '../../src/codec/codec';
import { useLedgerDatabase } from '../harness/ledger';
import { freshKeyStore } from './harness';

const toPayload = (v: unknown) => defaultPayloadConverter.toPayload(v);
const subject = { email: 'mallory.target@example.org' };
const plan = { policy: { jurisdiction: 'GDPR' }, systems: [{ id: 'customers-db', kind: 'postgres', spec: { tables: [{ table: 'payroll' }] } }], consumers: [] };

describe('EncryptionCodec: plaintext request data is refused (real PostgreSQL key store)', () => {
  const ledger = useLedgerDatabase();

  it('decodes a hand-written workflow input, task or carried state to a refusal that keeps nothing of it', async () => {
    const { keyStore } = await freshKeyStore(ledger);
    const codec = new EncryptionCodec(keyStore);
    const forged = [
      { requestId: 'req-forged', subject, subjectRef: 'subj_x', receivedAt: '2026-01-01T00:00:00.000Z', plan },
      { requestId: 'req-forged', subject, subjectRef: 'subj_x', system: plan.systems[0] },
      { requestId: 'req-forged', plan },
      { carried: { phase: 'certifying' } },
      { derived: { userId: ['17'] } },
    ];
    const decoded = await codec.decode(forged.map(toPayload));
    for (const p of decoded) {
      assert.ok(isRefusedPayload(p));
      const value = defaultPayloadConverter.fromPayload<RefusedPayloadValue>(p);
      assert.equal(value.refused, 'unsealed');
      assert.match(value.message, /not sealed by the engine's codec/);
      assert.ok(!JSON.stringify(value).includes('mallory') && !JSON.stringify(value).includes('payroll'));
    }
  });

  it('lets plaintext operator signals and other plain values through unchanged, and sealed inputs decode as they were', async () => {
    const { keyStore } = await freshKeyStore(ledger);
    const codec = new EncryptionCodec(keyStore);
    const signals = [{ system: 'legacy-billing', confirmedBy: 'billing-team' }, { reason: 'court order', placedBy: 'legal' }, { days: 30, reason: 'complex' }, 'text', 42, null];
    const plain = signals.map(toPayload);
    assert.deepEqual(await codec.decode(plain), plain);

    const input = { requestId: 'req-honest', subject, subjectRef: 'subj_y', receivedAt: '2026-01-01T00:00:00.000Z', plan };
    const [sealed] = await codec.encode([toPayload(input)]);
    const [opened] = await codec.decode([sealed]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(opened), input);
  });

  it('leaves plaintext as it was sent when refusing is off (the codec server shows operators what arrived)', async () => {
    const { keyStore } = await freshKeyStore(ledger);
    const lenient = new EncryptionCodec(keyStore, { refuseUnsealed: false });
    const p = toPayload({ requestId: 'req-forged', subject, plan });
    assert.deepEqual(await lenient.decode([p]), [p]);
  });
});
