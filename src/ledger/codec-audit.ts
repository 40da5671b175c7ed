/**
 * The codec server's side of the audit trail: one `codec.decoded` event per request whose payloads a decode
 * revealed, all of one call written in one transaction, so a decode is either fully recorded or not at all.
 */
import { auditEventTypes } from '../domain';
import { inTransaction, type Pool } from './db';
import { appendEvent } from './events';

/** One request's share of one decode: who asked, how many of its payloads were decrypted, where. */
export interface CodecDecodeRecord {
  requestId: string;
  /** `api-key:<name>`, `codec-token`, `path-token` or `oidc:<subject>`. */
  actor: string;
  /** True when the actor is not a person or a key of one (the path token: whoever holds the URL). */
  anonymous?: boolean;
  payloads: number;
  /** The `X-Namespace` the caller sent, or null. */
  namespace: string | null;
}

/** Records a decode's reveals; rejects when the ledger cannot take them (the codec server then reveals nothing). */
export type CodecAudit = (records: readonly CodecDecodeRecord[]) => Promise<void>;

/**
 * Builds the codec server's audit on the ledger.
 * @example createCodecServer({ keyStore, auth, corsOrigins, audit: createCodecAudit(pool) });
 */
export function createCodecAudit(pool: Pool): CodecAudit {
  return async (records) => {
    if (records.length === 0) return;
    await inTransaction(pool, async (client) => {
      for (const r of records) {
        const detail = { actor: r.actor, via: 'codec-server', payloads: r.payloads, namespace: r.namespace, ...(r.anonymous ? { anonymous: true } : {}) };
        await appendEvent(client, { requestId: r.requestId, type: auditEventTypes.codecDecoded, detail });
      }
    });
  };
}
