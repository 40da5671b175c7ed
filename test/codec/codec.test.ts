import assert from 'node:assert/strict';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { EncryptionCodec, ENCODING_ENCRYPTED, isShreddedPayload, METADATA_KEY_ID } from '../../src/codec/codec';
import { DataKeyDestroyedError, PayloadAuthenticationError, UnknownDataKeyError } from '../../src/codec/errors';
import { shredRequestKey } from '../../src/codec/shred';
import { findIdentifiers } from './pii-scan';
import { useLedgerDatabase } from '../harness/ledger';
import { freshKeyStore } from './harness';

const subject = { email: 'grace.hopper@example.net', userId: 'user-19061209', phone: '+15550100123' };
const toPayload = (v: unknown) => defaultPayloadConverter.toPayload(v);
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString();
const keyIdOf = (p: Payload) => text(p.metadata?.[METADATA_KEY_ID]);

describe('EncryptionCodec (real PostgreSQL key store)', () => {
  const ledger = useLedgerDatabase();

  it("encrypts a payload naming a request under that request's key, and decodes it back exactly", async () => {
    const { keyStore } = await freshKeyStore(ledger);
    const codec = new EncryptionCodec(keyStore);
    const plain = toPayload({ requestId: 'req-1', subject, subjectRef: 'ref-1' });
    const [enc] = await codec.encode([plain]);
    assert.equal(text(enc.metadata?.encoding), ENCODING_ENCRYPTED);
    const k = await keyStore.requestKey('req-1');
    assert.equal(keyIdOf(enc), k.state === 'live' ? k.dataKey.id : 'not live');
    assert.deepEqual(findIdentifiers(Buffer.from(JSON.stringify(enc.metadata)).toString() + Buffer.from(enc.data!).toString('base64'), subject), []);
    const [dec] = await codec.decode([enc]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(dec), { requestId: 'req-1', subject, subjectRef: 'ref-1' });
    assert.equal(text(dec.metadata?.encoding), 'json/plain');
  });

  it('uses the default key for payloads that name no request, and leaves nothing unencrypted', async () => {
    const { keyStore } = await freshKeyStore(ledger);
    const codec = new EncryptionCodec(keyStore);
    const values = [{ certificateId: 'c-1' }, ['req-1'], 'req-1', 42, null, undefined, { requestId: 7 }, new Uint8Array([1, 2, 3])];
    const encoded = await codec.encode(values.map(toPayload));
    for (const e of encoded) {
      assert.equal(text(e.metadata?.encoding), ENCODING_ENCRYPTED);
      assert.equal(keyIdOf(e), keyStore.defaultKey.id);
    }
    const decoded = await codec.decode(encoded);
    assert.deepEqual(decoded.map((p) => defaultPayloadConverter.fromPayload(p)), values);
  });

  it('uses a fresh IV every time: the same value never encrypts the same way twice', async () => {
    const { keyStore } = await freshKeyStore(ledger);
    const codec = new EncryptionCodec(keyStore);
    const [a, b] = await codec.encode([toPayload({ requestId: 'r', subject }), toPayload({ requestId: 'r', subject })]);
    assert.notDeepEqual(Buffer.from(a.data!), Buffer.from(b.data!));
  });

  it('rejects tampered ciphertext and a rewritten key id as failed authentication', async () => {
    const { keyStore } = await freshKeyStore(ledger);
    const codec = new EncryptionCodec(keyStore);
    const [enc] = await codec.encode([toPayload({ requestId: 'req-t', subject })]);
    const flipped = Buffer.from(enc.data!);
    flipped[flipped.length - 20] ^= 0x01;
    await assert.rejects(codec.decode([{ ...enc, data: flipped }]), (err: Error) => err instanceof PayloadAuthenticationError && /failed authentication/.test(err.message));
    await codec.encode([toPayload({ requestId: 'req-other' })]);
    const other = await keyStore.requestKey('req-other');
    const relabelled = { ...enc, metadata: { ...enc.metadata, [METADATA_KEY_ID]: Buffer.from(other.state === 'live' ? other.dataKey.id : '') } };
    await assert.rejects(codec.decode([relabelled]), PayloadAuthenticationError);
    const unknown = { ...enc, metadata: { ...enc.metadata, [METADATA_KEY_ID]: Buffer.from('dk_never_existed') } };
    await assert.rejects(codec.decode([unknown]), (err: Error) => err instanceof UnknownDataKeyError && /not in this engine database/.test(err.message));
  });

  it('after shredding, reports the request payloads as shredded and still reads everything else', async () => {
    const { db, keyStore } = await freshKeyStore(ledger);
    const codec = new EncryptionCodec(keyStore);
    const [input, result] = await codec.encode([toPayload({ requestId: 'req-s', subject }), toPayload({ certificateId: 'cert-1' })]);
    await shredRequestKey(db.pool, 'req-s', { keyStore });
    const [gone, kept] = await codec.decode([input, result]);
    assert.ok(isShreddedPayload(gone));
    const value = defaultPayloadConverter.fromPayload(gone) as Record<string, unknown>;
    assert.equal(value.shredded, true);
    assert.equal(value.keyId, keyIdOf(input));
    assert.equal(value.requestId, 'req-s');
    assert.match(String(value.message), /data key destroyed after the certificate was issued/);
    assert.deepEqual(defaultPayloadConverter.fromPayload(kept), { certificateId: 'cert-1' });
  });

  it("refuses to encrypt a shredded request's identifiers again, but encrypts its identifier-free payloads under the default key", async () => {
    const { db, keyStore } = await freshKeyStore(ledger);
    const codec = new EncryptionCodec(keyStore);
    await codec.encode([toPayload({ requestId: 'req-r', subject })]);
    await shredRequestKey(db.pool, 'req-r', { keyStore });
    await assert.rejects(codec.encode([toPayload({ requestId: 'req-r', subject })]), (err: Error) => {
      assert.ok(err instanceof DataKeyDestroyedError);
      assert.deepEqual(findIdentifiers(err.message, subject), []);
      return true;
    });
    const [audit] = await codec.encode([toPayload({ requestId: 'req-r', type: 'workflow.completed' })]);
    assert.equal(keyIdOf(audit), keyStore.defaultKey.id);
    const { rows } = await db.pool.query('SELECT 1 FROM data_keys WHERE request_id = $1', ['req-r']);
    assert.equal(rows.length, 0, 'no key may be created again for a shredded request');
  });

  it("uses the request's key for anything an erasure workflow or its activities produce, by the SDK's serialization context", async () => {
    const { db, keyStore } = await freshKeyStore(ledger);
    const codec = new EncryptionCodec(keyStore);
    const failure = toPayload({ message: `lookup of ${subject.email} timed out`, stack_trace: 'Error: …' });
    const [ofRequest] = await codec.encode([failure], { type: 'activity', namespace: 'default', workflowId: 'erasure-req-c', activityId: '1', isLocal: false });
    const [ofOther] = await codec.encode([failure], { type: 'workflow', namespace: 'default', workflowId: 'nightly-report' });
    const k = await keyStore.requestKey('req-c');
    assert.equal(keyIdOf(ofRequest), k.state === 'live' ? k.dataKey.id : 'not live');
    assert.equal(keyIdOf(ofOther), keyStore.defaultKey.id);
    await shredRequestKey(db.pool, 'req-c', { keyStore });
    assert.ok(isShreddedPayload((await codec.decode([ofRequest]))[0]), 'a failure quoting an identifier is shredded with its request');
    const [after] = await codec.encode([toPayload({ certificateId: 'c' })], { type: 'workflow', namespace: 'default', workflowId: 'erasure-req-c' });
    assert.equal(keyIdOf(after), keyStore.defaultKey.id, 'what a shredded request still produces goes under the default key');
  });
});
