/**
 * The outbox side of the event bus: what a state change writes, in its own transaction, for the relay to
 * publish to Kafka and then delete. This module and the relay are the only SQL on `event_outbox` (migration 030).
 *
 * Enqueueing is idempotent on `eventId`: an activity retried after a crash writes the same message once.
 * Choose event ids that a retry reproduces (`<requestId>:<type>[:<system>]`), never random ones.
 */
import type { Queryable } from '../ledger/db';

/** Postgres NOTIFY channel the relay listens on, so a new message is published at once. */
export const OUTBOX_CHANNEL = 'event_outbox';

/** One message to publish. `value` is JSON; on shared topics it must carry no identifiers. */
export interface OutboxMessage {
  /** Stable id of the message, also in `value.eventId`; consumers deduplicate on it. */
  eventId: string;
  topic: string;
  /** Kafka message key (the request id for request events: one partition keeps a request's order). */
  key: string;
  value: Record<string, unknown>;
}

/**
 * Queues messages in the caller's transaction (pass its client) and wakes the relay when it commits.
 * A message whose `eventId` is already queued is left as it is (one already published and deleted would be
 * queued again: publishing is at least once anyway, and consumers deduplicate on `eventId`).
 * @example await inTransaction(pool, async (c) => { await appendEvent(c, e); await enqueue(c, [message]); });
 */
export async function enqueue(db: Queryable, messages: readonly OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await db.query(
    `INSERT INTO event_outbox (event_id, topic, message_key, value)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
     ON CONFLICT (event_id) DO NOTHING`,
    [messages.map((m) => m.eventId), messages.map((m) => m.topic), messages.map((m) => m.key), messages.map((m) => JSON.stringify({ ...m.value, eventId: m.eventId }))],
  );
  // Delivered only on commit, so the relay never looks before the message is visible.
  await db.query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
}
