/**
 * The full list of a request's operator actions, read from the audit trail. The workflow keeps only the
 * latest ones in its state (src/workflows/action-log.ts) and writes every one, in batches, as the event
 * `operator.actions`; a batch can be written twice (a retried local activity, or a batch in flight at
 * continue-as-new), so entries are deduplicated on their sequence number `n`.
 */
import { z } from 'zod';
import { auditEventTypes, type OperatorActionEntry } from '../domain';
import type { Queryable } from './db';

const entrySchema = z.object({
  n: z.number().int().positive(),
  at: z.string(),
  signal: z.string(),
  accepted: z.boolean(),
  by: z.string().optional(),
  reason: z.string().optional(),
  system: z.string().optional(),
  consumer: z.string().optional(),
  status: z.string().optional(),
  days: z.number().optional(),
});
const detailSchema = z.object({ actions: z.array(z.unknown()), dropped: z.number().int().nonnegative().optional() });

/** Every recorded action in order, and how many the workflow had to give up while the ledger was away. */
export interface OperatorActionLog {
  actions: OperatorActionEntry[];
  /** Entries dropped by the workflow (its queue is bounded); their numbers are missing from `actions`. */
  dropped: number;
}

/**
 * Reads a request's operator actions from the audit trail, one entry per action, in the order they happened.
 * Entries that do not parse are skipped: the trail is written only by the workflow, through the activities.
 * @example const { actions } = await listOperatorActions(pool, 'req-1'); actions.filter((a) => !a.accepted);
 */
export async function listOperatorActions(db: Queryable, requestId: string): Promise<OperatorActionLog> {
  const { rows } = await db.query<{ detail: unknown }>('SELECT detail FROM events WHERE request_id = $1 AND type = $2 ORDER BY id', [
    requestId,
    auditEventTypes.operatorActions,
  ]);
  const byNumber = new Map<number, OperatorActionEntry>();
  let dropped = 0;
  for (const row of rows) {
    const detail = detailSchema.safeParse(row.detail);
    if (!detail.success) continue;
    // A batch written twice carries the same `dropped` again; count it once per first sighting of its entries.
    let fresh = false;
    for (const raw of detail.data.actions) {
      const entry = entrySchema.safeParse(raw);
      if (!entry.success || byNumber.has(entry.data.n)) continue;
      byNumber.set(entry.data.n, entry.data);
      fresh = true;
    }
    if (fresh) dropped += detail.data.dropped ?? 0;
  }
  return { actions: [...byNumber.values()].sort((a, b) => a.n - b.n), dropped };
}
