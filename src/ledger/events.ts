/**
 * The audit trail: every step of an erasure and every operator action, appended to `events`.
 * Details never carry identifiers; callers pass subject references, counts and system ids.
 */
import type { AuditEvent } from '../activities/types';
import type { AuditLog } from '../activities';
import type { Pool } from './db';

/** One recorded event as read back. */
export interface RecordedEvent {
  id: string;
  requestId: string;
  type: string;
  detail: Record<string, unknown>;
  at: string;
}

/**
 * The ledger's {@link AuditLog}: inserts one row per event.
 * @example const audit = createAuditLog(pool); await audit.recordEvent({ requestId, type: 'system.erased', detail: { system: 'crm' } });
 */
export function createAuditLog(pool: Pool): AuditLog {
  return {
    async recordEvent(e: AuditEvent): Promise<void> {
      await pool.query('INSERT INTO events (request_id, type, detail) VALUES ($1, $2, $3)', [e.requestId, e.type, JSON.stringify(e.detail ?? {})]);
    },
  };
}

/**
 * A request's audit trail in the order it was written.
 * @example const trail = await listEvents(pool, 'req-1');
 */
export async function listEvents(pool: Pool, requestId: string): Promise<RecordedEvent[]> {
  const { rows } = await pool.query<{ id: string; request_id: string; type: string; detail: Record<string, unknown>; at: Date }>(
    'SELECT id, request_id, type, detail, at FROM events WHERE request_id = $1 ORDER BY id',
    [requestId],
  );
  return rows.map((r) => ({ id: r.id, requestId: r.request_id, type: r.type, detail: r.detail, at: r.at.toISOString() }));
}
