/**
 * Issuing certificates into the ledger, and reading them back.
 *
 * Issuance runs in one transaction holding the chain's advisory lock: read the head of the chain, build,
 * sign, append, commit. Concurrent issuers therefore queue, each sees the certificate committed before
 * it, and the chain never forks (the table's unique constraints would refuse a fork anyway).
 *
 * Only a request the ledger received, under the workflow id the intake gave it, is certified: a workflow
 * started by hand in Temporal gets no signed proof of an erasure nobody asked for.
 */
import type { Attestor } from '../attestation';
import { randomBytes, randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { CertificateIssuer } from '../activities';
import type { AuditEvent, CertificateRequest } from '../activities/types';
import type { LedgerAudit } from '../ledger/audit';
import { auditEventTypes, claimedBatches, failureTypes } from '../domain';
import type { Logger } from '../logger';
import { advisoryLocks, inTransaction, type Pool, type PoolClient } from '../ledger/db';
import { batchesHolding } from '../ledger/batches';
import { appendEvent } from '../ledger/events';
import { completedMessage, DEFAULT_EVENTS_TOPIC } from '../events/lifecycle';
import { enqueue } from '../events/outbox';
import { createRequestRepository } from '../ledger/requests';
import pkg from '../../package.json';
import { buildCertificate, CertificateRequestError } from './build';
import { commitSubjectAsync } from './commitment';
import { publicKeysFromJwks, toJwk, type KeyRing, type PublicKeyEntry, type SigningKey } from './keys';
import { certificateSchema, describeIssues, type ErasureCertificate } from './schema';
import { certificateHash, signCertificate } from './sign';

/** The engine's version, stamped on every certificate. */
export const ENGINE_VERSION: string = pkg.version;

export interface CertificateIssuerOptions {
  pool: Pool;
  keys: KeyRing;
  logger?: Logger;
  /** Checks who sent each operator action (src/attestation); every certificate then says how each arrived. */
  attestor?: Attestor;
  /** Overrides the version stamped on certificates (tests). */
  engineVersion?: string;
  /** The clock (tests). */
  now?: () => Date;
  /** Topic of `erasure.completed` (`KAFKA_EVENTS_TOPIC`; default `erasure.events`). */
  eventsTopic?: string;
  /**
   * Writes the events a request hands over with it (its last phases) inside the certificate's transaction,
   * as the audit activity would (row moved, lifecycle message queued). Without it they are appended only.
   */
  audit?: Pick<LedgerAudit, 'recordWithin'>;
}

/**
 * Registers a key's public part in `signing_keys` (idempotent). The first time a new key appears, the
 * keys registered before it are marked retired; they stay published and keep verifying what they signed.
 */
export async function registerSigningKey(db: Pool | PoolClient, key: Pick<SigningKey, 'keyId' | 'publicKey'>): Promise<{ registered: boolean }> {
  const pem = key.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const { rowCount } = await db.query(
    'INSERT INTO signing_keys (key_id, public_jwk, public_pem) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING',
    [key.keyId, JSON.stringify(toJwk(key)), pem],
  );
  if (!rowCount) return { registered: false };
  await db.query('UPDATE signing_keys SET retired_at = now() WHERE key_id <> $1 AND retired_at IS NULL', [key.keyId]);
  return { registered: true };
}

/**
 * Every public key in `signing_keys`, current and retired, newest first.
 * @example res.json(jwks(await loadPublicKeys(pool)));
 */
export async function loadPublicKeys(db: Pool | PoolClient): Promise<PublicKeyEntry[]> {
  const { rows } = await db.query<{ key_id: string; public_jwk: unknown; created_at: Date; retired_at: Date | null }>(
    'SELECT key_id, public_jwk, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, key_id',
  );
  return rows.map((r) => {
    const [entry] = publicKeysFromJwks({ keys: [r.public_jwk] });
    return { keyId: r.key_id, publicKey: entry.publicKey, createdAt: r.created_at.toISOString(), retiredAt: r.retired_at?.toISOString() ?? null };
  });
}

/**
 * The worker's key ring: registers the signing key, then gathers every public key the ledger knows.
 * @example const keys = await loadKeyRing(pool, loadSigningKey({ pem: config.SIGNING_KEY_PEM, file: config.SIGNING_KEY_FILE, dataDir: '.data', logger }));
 */
export async function loadKeyRing(pool: Pool, signing: SigningKey, logger?: Logger): Promise<KeyRing> {
  const { registered } = await registerSigningKey(pool, signing);
  if (registered) logger?.info({ keyId: signing.keyId }, 'new certificate signing key registered; earlier keys retired but still published');
  return { signing, publicKeys: await loadPublicKeys(pool) };
}

interface CertificateRow {
  certificate_id: string;
  sequence: string;
}

/**
 * The ledger's {@link CertificateIssuer}. Idempotent per request: a retried activity gets the
 * certificate issued the first time, never a second one.
 * @example const certificates = createCertificateIssuer({ pool, keys, logger });
 */
export function createCertificateIssuer(opts: CertificateIssuerOptions): CertificateIssuer {
  const { pool, keys, logger } = opts;
  const engineVersion = opts.engineVersion ?? ENGINE_VERSION;
  const now = opts.now ?? (() => new Date());
  const requests = createRequestRepository(pool);
  let keyRegistered = false;

  const existing = async (db: Pool | PoolClient, requestId: string) =>
    (await db.query<CertificateRow>('SELECT certificate_id, sequence FROM certificates WHERE request_id = $1', [requestId])).rows[0];

  return {
    async issue(req: CertificateRequest): Promise<{ certificateId: string }> {
      const received = await requests.find(req.requestId);
      if (!received || received.workflowId !== req.workflowId) {
        const why = received ? `the ledger received it for another workflow id than ${req.workflowId}` : 'the ledger never received it';
        logger?.warn({ requestId: req.requestId, workflowId: req.workflowId }, 'certificate refused: request not received by the ledger');
        throw ApplicationFailure.create({
          type: failureTypes.requestNotReceived,
          nonRetryable: true,
          message: `cannot certify request ${req.requestId}: ${why} (a workflow started by hand?)`,
        });
      }
      const found = await existing(pool, req.requestId);
      if (found) return { certificateId: found.certificate_id };
      // Bulk actions' claims verify only on requests their recorded batch holds: read this request's batches first.
      const attestor = opts.attestor;
      const batches = attestor
        ? await batchesHolding(pool, req.requestId, claimedBatches([...req.receipts, ...req.consumers, ...req.actions].map((x) => x.attestation)))
        : undefined;

      // The commitment's scrypt is slow on purpose and depends on nothing in the chain: computed here, off the
      // event loop, so the chain lock is held only to read the head, sign and append. A request it cannot be
      // computed for is left to buildCertificate, which refuses it with the reason (CertificateRequestError).
      const commitment = await commitSubjectAsync(req.subject, randomBytes(32), req.derived).catch(() => undefined);

      let registeredNow = false;
      const issued = await inTransaction(pool, async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...advisoryLocks.certificateChain]);
        // Under the lock, a concurrent attempt for the same request has either committed or not started.
        const raced = await existing(c, req.requestId);
        if (raced) return { certificateId: raced.certificate_id, sequence: Number(raced.sequence), fresh: false };
        if (!keyRegistered) {
          await registerSigningKey(c, keys.signing);
          registeredNow = true;
        }

        const head = (await c.query<{ sequence: string; hash: string }>('SELECT sequence, hash FROM certificates ORDER BY sequence DESC LIMIT 1')).rows[0];
        const sequence = head ? Number(head.sequence) + 1 : 1;
        let certificate: ErasureCertificate;
        try {
          const unsigned = buildCertificate(req, {
            certificateId: `cert_${randomUUID()}`,
            sequence,
            issuedAt: now(),
            previousCertificateHash: head?.hash ?? null,
            engineVersion,
            ...(commitment ? { commitment } : {}),
            ...(attestor ? { arrival: (attestation, action) => attestor.arrival(attestation, action, batches) } : {}),
          });
          certificate = await signCertificate(unsigned, keys.signing);
          const check = certificateSchema.safeParse(certificate);
          if (!check.success) throw new CertificateRequestError(describeIssues(check.error));
        } catch (err) {
          if (err instanceof CertificateRequestError) {
            throw ApplicationFailure.create({ type: 'InvalidCertificateRequest', nonRetryable: true, message: `cannot certify request ${req.requestId}: ${err.message}` });
          }
          throw err;
        }
        const hash = await certificateHash(certificate);
        const write = async (e: AuditEvent) => (opts.audit ? opts.audit.recordWithin(c, e) : appendEvent(c, e));
        // Only events of this request: the workflow's own phases, in the order it reached them.
        const own = (list: AuditEvent[] | undefined) => (list ?? []).filter((e) => e.requestId === req.requestId);
        for (const e of own(req.events?.before)) await write(e);
        await c.query(
          `INSERT INTO certificates (sequence, certificate_id, request_id, certificate, hash, previous_hash, key_id, issued_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [sequence, certificate.certificateId, req.requestId, JSON.stringify(certificate), hash, certificate.previousCertificateHash, keys.signing.keyId, certificate.issuedAt],
        );
        await requests.linkCertificate(c, { requestId: req.requestId, certificateId: certificate.certificateId, completedAt: certificate.request.completedAt });
        await appendEvent(c, {
          requestId: req.requestId,
          type: auditEventTypes.certificateIssued,
          detail: { certificateId: certificate.certificateId, sequence, hash, keyId: keys.signing.keyId },
        });
        // Downstream hears of the completion if and only if the certificate committed.
        const completed = { requestId: req.requestId, certificateId: certificate.certificateId, hash, sequence, completedAt: certificate.request.completedAt, subjectRef: received.subjectRef };
        await enqueue(c, [completedMessage(completed, { topic: opts.eventsTopic ?? DEFAULT_EVENTS_TOPIC, occurredAt: certificate.issuedAt })]);
        for (const e of own(req.events?.after)) await write(e);
        return { certificateId: certificate.certificateId, sequence, fresh: true };
      });
      if (registeredNow) keyRegistered = true;
      if (issued.fresh) logger?.info({ requestId: req.requestId, certificateId: issued.certificateId, sequence: issued.sequence }, 'erasure certificate issued');
      return { certificateId: issued.certificateId };
    },
  };
}

/**
 * A request's certificate as stored, or `undefined` when none has been issued.
 * @example const certificate = await getCertificate(pool, req.params.id); if (!certificate) throw notFound();
 */
export async function getCertificate(pool: Pool, requestId: string): Promise<ErasureCertificate | undefined> {
  const { rows } = await pool.query<{ certificate: ErasureCertificate }>('SELECT certificate FROM certificates WHERE request_id = $1', [requestId]);
  return rows[0]?.certificate;
}
