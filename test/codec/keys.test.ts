import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KeyStoreError, MasterKeyError } from '../../src/codec/errors';
import { generateMasterKey, loadMasterKey, openKeyStore } from '../../src/codec/keys';
import { useLedgerDatabase } from '../harness/ledger';
import { freshKeyStore, freshMasterKey } from './harness';

describe('master key loading', () => {
  const key = generateMasterKey();

  it('fails with a message naming both variables when no master key is configured', () => {
    assert.throws(() => loadMasterKey({}), (err: Error) => {
      assert.ok(err instanceof MasterKeyError);
      assert.match(err.message, /no master key/);
      assert.match(err.message, /ENGINE_MASTER_KEY\b/);
      assert.match(err.message, /ENGINE_MASTER_KEY_FILE/);
      return true;
    });
  });

  it('accepts 32 bytes as base64, base64url or hex, and refuses anything else without echoing it', () => {
    const bytes = Buffer.from(key, 'base64');
    for (const v of [key, bytes.toString('base64url'), bytes.toString('hex'), ` ${key}\n`]) loadMasterKey({ ENGINE_MASTER_KEY: v });
    const secretish = 'not-a-key-but-a-secret-looking-value';
    for (const v of [secretish, Buffer.alloc(16).toString('base64'), Buffer.alloc(33).toString('hex')]) {
      assert.throws(() => loadMasterKey({ ENGINE_MASTER_KEY: v }), (err: Error) => {
        assert.ok(err instanceof MasterKeyError);
        assert.match(err.message, /ENGINE_MASTER_KEY is not a valid master key: expected 32 bytes/);
        assert.ok(!err.message.includes(v.trim()), 'the message must not echo the value');
        return true;
      });
    }
  });

  it('reads the key from ENGINE_MASTER_KEY_FILE (text or 32 raw bytes) and reports an unreadable file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'master-key-'));
    fs.writeFileSync(path.join(dir, 'text'), `${key}\n`);
    fs.writeFileSync(path.join(dir, 'raw'), Buffer.from(key, 'base64'));
    fs.writeFileSync(path.join(dir, 'bad'), 'short');
    assert.match(loadMasterKey({ ENGINE_MASTER_KEY_FILE: path.join(dir, 'text') }).source, /ENGINE_MASTER_KEY_FILE/);
    loadMasterKey({ ENGINE_MASTER_KEY_FILE: path.join(dir, 'raw') });
    assert.throws(() => loadMasterKey({ ENGINE_MASTER_KEY_FILE: path.join(dir, 'bad') }), /does not hold a valid master key/);
    assert.throws(() => loadMasterKey({ ENGINE_MASTER_KEY_FILE: path.join(dir, 'missing') }), /cannot be read: ENOENT/);
  });

  it('refuses both variables at once', () => {
    assert.throws(() => loadMasterKey({ ENGINE_MASTER_KEY: key, ENGINE_MASTER_KEY_FILE: '/x' }), /both ENGINE_MASTER_KEY and ENGINE_MASTER_KEY_FILE are set/);
  });
});

describe('key store (real PostgreSQL)', () => {
  const ledger = useLedgerDatabase();

  it('adopts the master key on a fresh database and fails at start-up with a clear message under another one', async () => {
    const { db, masterKey } = await freshKeyStore(ledger);
    await openKeyStore({ pool: db.pool, masterKey }); // the same key opens again
    await assert.rejects(openKeyStore({ pool: db.pool, masterKey: freshMasterKey() }), (err: Error) => {
      assert.ok(err instanceof MasterKeyError);
      assert.match(err.message, /from ENGINE_MASTER_KEY is not the master key this engine database was set up with/);
      return true;
    });
  });

  it('refuses to adopt a new master key when data keys exist but the check value was removed', async () => {
    const { db, keyStore } = await freshKeyStore(ledger);
    await keyStore.requestKey('req-1');
    await db.pool.query('DELETE FROM master_key_check');
    await assert.rejects(openKeyStore({ pool: db.pool, masterKey: freshMasterKey() }), /check value is missing although 2 data keys exist/);
  });

  it('says to run the migrations when the key tables are missing', async () => {
    const db = await ledger.fresh({ migrate: false });
    await assert.rejects(openKeyStore({ pool: db.pool, masterKey: freshMasterKey() }), (err: Error) => {
      assert.ok(err instanceof KeyStoreError);
      assert.match(err.message, /run the ledger migrations \(020_data_keys.sql\)/);
      return true;
    });
  });

  it('stores data keys only wrapped, one per request, and the same key for every process', async () => {
    const { db, masterKey, keyStore } = await freshKeyStore(ledger);
    const a = await keyStore.requestKey('req-a');
    assert.equal(a.state, 'live');
    if (a.state !== 'live') return;
    const other = await openKeyStore({ pool: db.pool, masterKey });
    const seen = await other.requestKey('req-a');
    assert.equal(seen.state === 'live' && seen.dataKey.id, a.dataKey.id);
    const raw = a.dataKey.key.export();
    const { rows } = await db.pool.query<{ wrapped_key: Buffer; request_id: string | null }>('SELECT wrapped_key, request_id FROM data_keys');
    assert.deepEqual(rows.map((r) => r.request_id).sort(), [null, 'req-a'].sort());
    for (const r of rows) assert.equal(r.wrapped_key.includes(raw), false, 'a data key must never be stored unwrapped');
    assert.notEqual(keyStore.defaultKey.id, a.dataKey.id);
  });

  it('creates exactly one key when many processes ask for a new request at once', async () => {
    const { db, masterKey } = await freshKeyStore(ledger);
    const stores = await Promise.all(Array.from({ length: 6 }, () => openKeyStore({ pool: db.pool, masterKey })));
    const keys = await Promise.all(stores.flatMap((s) => [s.requestKey('req-race'), s.requestKey('req-race')]));
    assert.equal(new Set(keys.map((k) => (k.state === 'live' ? k.dataKey.id : 'destroyed'))).size, 1);
    const { rows } = await db.pool.query('SELECT 1 FROM data_keys WHERE request_id = $1', ['req-race']);
    assert.equal(rows.length, 1);
  });

  it('keeps exactly one default key, which cannot be deleted', async () => {
    const { db, masterKey } = await freshKeyStore(ledger);
    const again = await Promise.all([1, 2, 3].map(() => openKeyStore({ pool: db.pool, masterKey })));
    assert.equal(new Set(again.map((s) => s.defaultKey.id)).size, 1);
    await assert.rejects(db.pool.query('DELETE FROM data_keys WHERE request_id IS NULL'), /default data key cannot be deleted/);
  });

  it('reports a wrapped key that was altered in the database', async () => {
    const { db, masterKey, keyStore } = await freshKeyStore(ledger);
    const k = await keyStore.requestKey('req-x');
    const keyId = k.state === 'live' ? k.dataKey.id : '';
    await db.pool.query(`UPDATE data_keys SET wrapped_key = set_byte(wrapped_key, 20, (get_byte(wrapped_key, 20) + 1) % 256) WHERE key_id = $1`, [keyId]);
    const fresh = await openKeyStore({ pool: db.pool, masterKey });
    await assert.rejects(fresh.lookup(keyId), new RegExp(`data key ${keyId} does not unwrap .*its row was altered`));
  });
});
