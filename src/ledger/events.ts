/**
 * The audit trail: every step of an erasure and every operator action, appended to `events`. This module
 * and ./requests.ts are the only places that write SQL for these two tables.
 * Details never carry identifiers; callers pass subject references, counts and system ids.
 */
import type { AuditEvent } from '../activities/types';
import { auditEventTypes } from '../domain';
import type { Queryable } from './db';

/** One recorded event as read back. */
export interface RecordedEvent {
  id: string;
  requestId: string;
  type: string;
  detail: Record<string, unknown>;
  at: string;
}

/**
 * Appends one event; pass a transaction's client to make the event part of that transaction.
 * @example await appendEvent(client, { requestId, type: 'certificate.issued', detail: { certificateId } });
 */
export async function appendEvent(db: Queryable, e: AuditEvent): Promise<void> {
  await db.query('INSERT INTO events (request_id, type, detail) VALUES ($1, $2, $3)', [e.requestId, e.type, JSON.stringify(e.detail ?? {})]);
}

/**
 * A request's audit trail in the order it was written.
 * @example const trail = await listEvents(pool, 'req-1');
 */
export async function listEvents(db: Queryable, requestId: string): Promise<RecordedEvent[]> {
  const { rows } = await db.query<{ id: string; request_id: string; type: string; detail: Record<string, unknown>; at: Date }>(
    'SELECT id, request_id, type, detail, at FROM events WHERE request_id = $1 ORDER BY id',
    [requestId],
  );
  return rows.map((r) => ({ id: r.id, requestId: r.request_id, type: r.type, detail: r.detail, at: r.at.toISOString() }));
}

/**
 * The first certificate the trail says was issued but the certificate ledger no longer holds (a deletion
 * at the chain's end leaves no dangling link, only this).
 * @example const lost = await issuedCertificateMissing(pool); if (lost) report(lost.certificateId);
 */
export async function issuedCertificateMissing(db: Queryable): Promise<{ certificateId: string; sequence: number } | undefined> {
  const { rows } = await db.query<{ certificate_id: string; sequence: string | null }>(
    `SELECT e.detail->>'certificateId' AS certificate_id, e.detail->>'sequence' AS sequence
       FROM events e
      WHERE e.type = $1
        AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.certificate_id = e.detail->>'certificateId')
      ORDER BY e.id LIMIT 1`,
    [auditEventTypes.certificateIssued],
  );
  return rows[0] ? { certificateId: rows[0].certificate_id, sequence: Number(rows[0].sequence ?? 0) } : undefined;
}
