/** Shared set-up of the codec tests: a real PostgreSQL with the ledger schema (020_data_keys included). */
import { generateMasterKey, loadMasterKey, openKeyStore, type KeyStore, type KeyStoreOptions, type MasterKey } from '../../src/codec/keys';
import { startLedgerServer, type LedgerDb, type LedgerServer } from '../ledger/harness';

export { startLedgerServer, type LedgerDb, type LedgerServer };

/** A fresh random master key, loaded the way a process loads it. */
export function freshMasterKey(): MasterKey {
  return loadMasterKey({ ENGINE_MASTER_KEY: generateMasterKey() });
}

/** A key store over a fresh migrated database, with its master key. */
export async function freshKeyStore(ledger: LedgerServer, opts: Partial<KeyStoreOptions> = {}): Promise<{ db: LedgerDb; masterKey: MasterKey; keyStore: KeyStore }> {
  const db = await ledger.freshDb();
  const masterKey = opts.masterKey ?? freshMasterKey();
  const keyStore = await openKeyStore({ pool: db.pool, masterKey, ...opts });
  return { db, masterKey, keyStore };
}
