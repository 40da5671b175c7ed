/**
 * Crypto-shredding: once a request is certified (or cancelled) and its workflow has closed, its data key is
 * destroyed, and with it every copy of the request's payloads that Temporal (or a backup of it) still holds.
 * When to call it is the shredder's decision (`./shredder.ts`); this module only does it, once.
 */
import { randomBytes } from 'node:crypto';
import { auditEventTypes } from '../domain';
import { inTransaction, type Pool } from '../ledger/db';
import { appendEvent } from '../ledger/events';
import type { Logger } from '../logger';
import { DATA_KEY_LOCK_CLASS, type DestroyedKey, type KeyStore } from './keys';

export interface ShredOptions {
  /** The process's key store, so its cache forgets the key at once (other processes: within their cache TTL). */
  keyStore?: KeyStore;
  /** Recorded in the audit event, to tie the destruction to the certificate that allowed it. */
  certificateId?: string;
  logger?: Logger;
}

export interface ShredResult extends DestroyedKey {
  /** False when an earlier call had already destroyed the key (nothing changed this time). */
  destroyedNow: boolean;
  /** Set when `destroyedNow`: false if the request never had a key (no payload named it); a tombstone is recorded anyway. */
  hadKey?: boolean;
}

/**
 * Deletes a request's data key row, records its tombstone and the `data_key.destroyed` audit event, all in
 * one transaction. Idempotent: a second call changes nothing and records nothing. A request shredded before
 * its key existed gets a tombstone too, so no key can be created for it afterwards.
 * @example await shredRequestKey(pool, certificate.requestId, { keyStore, certificateId, logger });
 */
export async function shredRequestKey(pool: Pool, requestId: string, opts: ShredOptions = {}): Promise<ShredResult> {
  if (!requestId) throw new Error('shredRequestKey needs a request id');
  const result = await inTransaction(pool, async (c): Promise<ShredResult> => {
    await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [DATA_KEY_LOCK_CLASS, requestId]);
    const prior = await c.query<{ key_id: string; destroyed_at: Date }>('SELECT key_id, destroyed_at FROM destroyed_data_keys WHERE request_id = $1', [requestId]);
    if (prior.rows[0]) {
      return { keyId: prior.rows[0].key_id, requestId, destroyedAt: prior.rows[0].destroyed_at.toISOString(), destroyedNow: false };
    }
    const deleted = await c.query<{ key_id: string }>('DELETE FROM data_keys WHERE request_id = $1 RETURNING key_id', [requestId]);
    const hadKey = deleted.rowCount === 1;
    const keyId = hadKey ? deleted.rows[0].key_id : `dk_${randomBytes(16).toString('base64url')}`;
    const tomb = await c.query<{ destroyed_at: Date }>('INSERT INTO destroyed_data_keys (key_id, request_id) VALUES ($1, $2) RETURNING destroyed_at', [keyId, requestId]);
    const detail = { keyId, hadKey, ...(opts.certificateId ? { certificateId: opts.certificateId } : {}) };
    await appendEvent(c, { requestId, type: auditEventTypes.dataKeyDestroyed, detail });
    return { keyId, requestId, destroyedAt: tomb.rows[0].destroyed_at.toISOString(), destroyedNow: true, hadKey };
  });
  opts.keyStore?.markDestroyed({ keyId: result.keyId, requestId, destroyedAt: result.destroyedAt });
  if (result.destroyedNow) opts.logger?.info({ requestId, keyId: result.keyId, hadKey: result.hadKey }, 'request data key destroyed (crypto-shredded)');
  return result;
}
