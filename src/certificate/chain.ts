/**
 * The ledger check: walks the certificate chain in sequence order and reports the first break.
 *
 * Each certificate is checked on its own (format, key, signature, stored hash) and against its
 * predecessor (gapless sequence, signed sequence, `previousCertificateHash`). When a link is broken, the
 * certificate it points to is looked up to tell a deletion (the predecessor is gone) from a reordering
 * (the predecessor sits elsewhere). A deletion at the very end leaves no dangling link, so the trail of
 * `certificate.issued` events and the requests' `certificate_id` are checked against the ledger too, and
 * every certificate must belong to a request the ledger received (`unreceived` names each one that does not).
 */
import { certificateHash, verifyCertificate } from './sign';
import { loadPublicKeys } from './issuer';
import type { PublicKeyEntry } from './keys';
import type { ErasureCertificate } from './schema';
import type { Pool } from '../ledger/db';
import { issuedCertificateMissing } from '../ledger/events';
import { createRequestRepository } from '../ledger/requests';

export type LedgerBreakKind = 'missing' | 'reordered' | 'altered' | 'unknown_key' | 'malformed' | 'unreceived';

export interface LedgerBreak {
  kind: LedgerBreakKind;
  /** The ledger position (row sequence) where the break shows; for a missing tail, the missing one's. */
  sequence: number;
  certificateId?: string;
  message: string;
}

export interface LedgerCheckResult {
  ok: boolean;
  /** Certificates that passed before the first break (all of them when ok). */
  checked: number;
  /** The last intact certificate. */
  head?: { sequence: number; certificateId: string; hash: string };
  break?: LedgerBreak;
}

export interface LedgerCheckOptions {
  /** Trusted public keys; defaults to the ledger's own `signing_keys`. Pass a published JWKS to not trust the database for keys. */
  keys?: PublicKeyEntry[];
  /** Rows read per query. */
  batchSize?: number;
}

interface Row {
  sequence: string;
  certificate_id: string;
  request_id: string;
  certificate: unknown;
  hash: string;
  previous_hash: string | null;
}

/**
 * Checks the whole chain; resolves with the first break, if any.
 * @example const result = await checkLedger(pool); if (!result.ok) console.error(result.break!.message);
 */
export async function checkLedger(pool: Pool, opts: LedgerCheckOptions = {}): Promise<LedgerCheckResult> {
  const keys = opts.keys ?? (await loadPublicKeys(pool));
  const batchSize = opts.batchSize ?? 500;
  let prev: { sequence: number; certificateId: string; hash: string } | undefined;
  let checked = 0;
  const fail = (b: LedgerBreak): LedgerCheckResult => ({ ok: false, checked, head: prev, break: b });

  const positionOf = async (hash: string): Promise<number | undefined> => {
    const { rows } = await pool.query<{ sequence: string }>('SELECT sequence FROM certificates WHERE hash = $1', [hash]);
    return rows[0] ? Number(rows[0].sequence) : undefined;
  };
  /** Why `cert` does not follow `prev`: its predecessor was deleted, or it sits elsewhere. */
  const brokenLink = async (position: number, cert: ErasureCertificate, what: string): Promise<LedgerBreak> => {
    const base = { sequence: position, certificateId: cert.certificateId };
    if (cert.previousCertificateHash === null) {
      return { ...base, kind: 'reordered', message: `${what}: certificate ${cert.certificateId} is the first ever issued (#1) but sits at #${position}` };
    }
    const at = await positionOf(cert.previousCertificateHash);
    if (at === undefined) {
      return {
        ...base,
        kind: 'missing',
        message: `${what}: certificate ${cert.certificateId} (issued as #${cert.sequence}) follows a certificate that is no longer in the ledger — #${cert.sequence - 1} was deleted`,
      };
    }
    return {
      ...base,
      kind: 'reordered',
      message: `${what}: certificate ${cert.certificateId} (issued as #${cert.sequence}) follows the certificate now at #${at}, not the one at #${position - 1} — the ledger was reordered`,
    };
  };

  for (;;) {
    const { rows } = await pool.query<Row>(
      'SELECT sequence, certificate_id, request_id, certificate, hash, previous_hash FROM certificates WHERE sequence > $1 ORDER BY sequence LIMIT $2',
      [prev?.sequence ?? 0, batchSize],
    );
    if (rows.length === 0) break;
    for (const row of rows) {
      const position = Number(row.sequence);
      const expected = (prev?.sequence ?? 0) + 1;
      const outcome = await verifyCertificate(row.certificate, keys);
      if (!outcome.valid) {
        const kind = outcome.reason === 'unknown_key' ? 'unknown_key' : outcome.reason === 'malformed' ? 'malformed' : 'altered';
        return fail({ kind, sequence: position, certificateId: row.certificate_id, message: `certificate at #${position} (${row.certificate_id}): ${outcome.message}` });
      }
      const cert = outcome.certificate;
      if (position !== expected) {
        // Rows are read in ascending order from prev, so a mismatch is always a gap.
        const what = prev ? `the sequence jumps from #${prev.sequence} to #${position}` : `the ledger starts at #${position}`;
        return fail(await brokenLink(position, cert, what));
      }
      if (cert.sequence !== position) return fail(await brokenLink(position, cert, `position #${position} holds a certificate issued as #${cert.sequence}`));
      const expectedPrevious = prev?.hash ?? null;
      if (cert.previousCertificateHash !== expectedPrevious) return fail(await brokenLink(position, cert, `the chain breaks at #${position}`));
      const hash = await certificateHash(cert);
      if (hash !== row.hash || row.previous_hash !== cert.previousCertificateHash || row.certificate_id !== cert.certificateId || row.request_id !== cert.request.requestId) {
        return fail({
          kind: 'altered',
          sequence: position,
          certificateId: cert.certificateId,
          message: `certificate at #${position} (${cert.certificateId}): the ledger row's hash, previous hash, id or request id disagrees with the signed certificate`,
        });
      }
      prev = { sequence: position, certificateId: cert.certificateId, hash };
      checked++;
    }
  }

  // A certificate the trail says was issued but the ledger no longer holds: a deletion at the end.
  const lost = await issuedCertificateMissing(pool);
  if (lost) {
    const { certificateId, sequence } = lost;
    return fail({ kind: 'missing', sequence, certificateId, message: `certificate ${certificateId} (#${sequence}) was issued, as the audit trail records, but is not in the ledger — it was deleted` });
  }
  const orphan = await createRequestRepository(pool).danglingCertificateLink();
  if (orphan) {
    return fail({ kind: 'missing', sequence: 0, certificateId: orphan, message: `a request refers to certificate ${orphan}, which is not in the ledger — it was deleted` });
  }
  // A signed certificate for a request nobody submitted: proof of an erasure the ledger never received.
  const unreceived = await createRequestRepository(pool).certificatesWithoutRequest(21);
  if (unreceived.length > 0) {
    const listed = unreceived.slice(0, 20).map((u) => `#${u.sequence} ${u.certificateId} (request ${u.requestId})`);
    return fail({
      kind: 'unreceived',
      sequence: unreceived[0].sequence,
      certificateId: unreceived[0].certificateId,
      message: `certificates for requests the ledger never received: ${listed.join(', ')}${unreceived.length > 20 ? ', and more' : ''}`,
    });
  }
  return { ok: true, checked, head: prev };
}
