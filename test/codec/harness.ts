/** Shared set-up of the codec tests: key stores over ledger databases (020_data_keys included). */
import type { Payload } from '@temporalio/common';
import { generateMasterKey, loadMasterKey, openKeyStore, type KeyStore, type KeyStoreOptions, type MasterKey } from '../../src/codec/keys';
import type { LedgerDb, LedgerHandle } from '../harness/ledger';

/** A fresh random master key, loaded the way a process loads it. */
export function freshMasterKey(): MasterKey {
  return loadMasterKey({ ENGINE_MASTER_KEY: generateMasterKey() });
}

/**
 * A key store over `db` (a migrated ledger database), with its master key.
 * @example const { keyStore } = await keyStoreOn(ledger); // the suite's database
 */
export async function keyStoreOn(db: LedgerDb, opts: Partial<KeyStoreOptions> = {}): Promise<{ db: LedgerDb; masterKey: MasterKey; keyStore: KeyStore }> {
  const masterKey = opts.masterKey ?? freshMasterKey();
  const keyStore = await openKeyStore({ pool: db.pool, masterKey, ...opts });
  return { db, masterKey, keyStore };
}

/**
 * A key store over a database of its own, for a test that must not see another's keys.
 * @example const { db, keyStore } = await freshKeyStore(ledger);
 */
export async function freshKeyStore(ledger: LedgerHandle, opts: Partial<KeyStoreOptions> = {}): Promise<{ db: LedgerDb; masterKey: MasterKey; keyStore: KeyStore }> {
  return keyStoreOn(await ledger.fresh(), opts);
}

/** A payload as the remote codec protocol (and the Web UI) carries it: metadata and data in base64. */
export type WirePayload = { metadata: Record<string, string>; data: string };

/** @example await fetch(`${codec}/decode`, { method: 'POST', body: JSON.stringify({ payloads: [toWire(p)] }) }); */
export const toWire = (p: Payload): WirePayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

/** @example defaultPayloadConverter.fromPayload(fromWire(body.payloads[0])) */
export const fromWire = (w: WirePayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(w.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(w.data, 'base64'),
});
