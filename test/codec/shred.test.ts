import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, isShreddedPayload } from '../../src/codec/codec';
import { openKeyStore } from '../../src/codec/keys';
import { shredRequestKey } from '../../src/codec/shred';
import { auditEventTypes } from '../../src/domain';
import { listEvents } from '../../src/ledger/events';
import { useLedgerDatabase } from '../harness/ledger';
import { freshKeyStore } from './harness';

const subject = { email: 'katherine.johnson@example.com', userId: 'kj-1918' };

describe('shredRequestKey (crypto-shredding, real PostgreSQL)', () => {
  const ledger = useLedgerDatabase();

  it('deletes the key row, leaves a tombstone and records data_key.destroyed in the audit trail', async () => {
    const { db, keyStore } = await freshKeyStore(ledger);
    const k = await keyStore.requestKey('req-1');
    const keyId = k.state === 'live' ? k.dataKey.id : '';
    const result = await shredRequestKey(db.pool, 'req-1', { keyStore, certificateId: 'cert-1' });
    assert.deepEqual({ keyId: result.keyId, destroyedNow: result.destroyedNow, hadKey: result.hadKey }, { keyId, destroyedNow: true, hadKey: true });
    assert.equal((await db.pool.query('SELECT 1 FROM data_keys WHERE key_id = $1', [keyId])).rowCount, 0);
    assert.equal((await db.pool.query('SELECT 1 FROM destroyed_data_keys WHERE key_id = $1', [keyId])).rowCount, 1);
    const events = await listEvents(db.pool, 'req-1');
    assert.deepEqual(events.map((e) => [e.type, e.detail]), [[auditEventTypes.dataKeyDestroyed, { keyId, hadKey: true, certificateId: 'cert-1' }]]);
  });

  it('is idempotent: a second call changes nothing and records nothing', async () => {
    const { db, keyStore } = await freshKeyStore(ledger);
    await keyStore.requestKey('req-2');
    const first = await shredRequestKey(db.pool, 'req-2');
    const second = await shredRequestKey(db.pool, 'req-2');
    assert.equal(second.destroyedNow, false);
    assert.equal(second.keyId, first.keyId);
    assert.equal(second.destroyedAt, first.destroyedAt);
    assert.equal((await listEvents(db.pool, 'req-2')).length, 1);
  });

  it('tombstones a request that never had a key, so none can be created for it afterwards', async () => {
    const { db, keyStore } = await freshKeyStore(ledger);
    const r = await shredRequestKey(db.pool, 'req-never', { keyStore });
    assert.equal(r.hadKey, false);
    assert.equal((await keyStore.requestKey('req-never')).state, 'destroyed');
    assert.equal((await db.pool.query('SELECT 1 FROM data_keys WHERE request_id = $1', ['req-never'])).rowCount, 0);
  });

  it('changes nothing when the audit record cannot be written (one transaction)', async () => {
    const { db, keyStore } = await freshKeyStore(ledger);
    await keyStore.requestKey('req-3');
    await db.pool.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit trail unavailable'; END $$`);
    await db.pool.query('CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()');
    await assert.rejects(shredRequestKey(db.pool, 'req-3', { keyStore }), /audit trail unavailable/);
    assert.equal((await db.pool.query('SELECT 1 FROM data_keys WHERE request_id = $1', ['req-3'])).rowCount, 1);
    assert.equal((await db.pool.query('SELECT 1 FROM destroyed_data_keys WHERE request_id = $1', ['req-3'])).rowCount, 0);
    assert.equal((await keyStore.requestKey('req-3')).state, 'live');
  });

  it('evicts at once in the shredding process; another process stops decoding when its cache entry expires', async () => {
    const { db, masterKey, keyStore } = await freshKeyStore(ledger);
    const ttl = 400;
    const elsewhere = await openKeyStore({ pool: db.pool, masterKey, cacheTtlMs: ttl });
    const here = new EncryptionCodec(keyStore);
    const there = new EncryptionCodec(elsewhere);
    const [enc] = await here.encode([defaultPayloadConverter.toPayload({ requestId: 'req-4', subject })]);
    assert.equal(isShreddedPayload((await there.decode([enc]))[0]), false); // caches the key over there
    const shreddedAt = Date.now();
    await shredRequestKey(db.pool, 'req-4', { keyStore });
    assert.ok(isShreddedPayload((await here.decode([enc]))[0]), 'the shredding process must not decode from its cache');
    if (Date.now() - shreddedAt < ttl / 2) {
      assert.equal(isShreddedPayload((await there.decode([enc]))[0]), false, 'within its TTL another process may still decode');
    }
    await sleep(ttl + 50);
    assert.ok(isShreddedPayload((await there.decode([enc]))[0]), 'after the TTL every process reports shredded');
  });
});
