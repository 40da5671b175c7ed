/**
 * The notification queue (`notification_outbox`, migration 032): the only SQL on that table. Activities
 * queue; the dispatcher (./dispatcher.ts) claims, then marks each row sent, due again or failed.
 *
 * Queueing is idempotent on `notificationId`: choose ids a retried activity reproduces, never random ones.
 * A sent row is kept (marked `sent`), so a repeat of the same id after delivery is still recognised.
 */
import type { Queryable } from '../ledger/db';
import type { Notice } from './messages';

export type NotificationChannel = 'email' | 'webhook';

/** One notification to deliver to one recipient. */
export interface QueuedNotification {
  /** Stable id: the same event, recipient and channel always give the same one. */
  notificationId: string;
  requestId: string;
  /** `manual_request`, `reminder` or `escalation.<reason>`. */
  kind: string;
  channel: NotificationChannel;
  /** An e-mail address, or a webhook's catalog entry (`system:<id>`, `consumer:<id>`, `escalation`). */
  target: string;
  message: Notice;
}

/** A claimed row, as the dispatcher sends it. */
export interface ClaimedNotification extends QueuedNotification {
  id: string;
  attempts: number;
  createdAt: Date;
}

/** How many notifications are in each state. */
export interface NotificationCounts {
  pending: number;
  sent: number;
  failed: number;
}

/**
 * Queues notifications (in the caller's transaction when given a client); ids already queued are left as they are.
 * @example await queueNotifications(pool, [{ notificationId, requestId, kind: 'reminder', channel: 'email', target: 'ops@corp.example', message }]);
 */
export async function queueNotifications(db: Queryable, items: readonly QueuedNotification[]): Promise<number> {
  if (items.length === 0) return 0;
  const res = await db.query(
    `INSERT INTO notification_outbox (notification_id, request_id, kind, channel, target, message)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
     ON CONFLICT (notification_id) DO NOTHING`,
    [
      items.map((n) => n.notificationId),
      items.map((n) => n.requestId),
      items.map((n) => n.kind),
      items.map((n) => n.channel),
      items.map((n) => n.target),
      items.map((n) => JSON.stringify(n.message)),
    ],
  );
  return res.rowCount ?? 0;
}

interface Row {
  id: string;
  notification_id: string;
  request_id: string;
  kind: string;
  channel: NotificationChannel;
  target: string;
  message: Notice;
  attempts: number;
  created_at: Date;
}

/**
 * Claims up to `batch` due notifications for `leaseSeconds`, oldest first, in one statement: rows another
 * dispatcher holds (locked or leased) are skipped, so none is sent twice at once.
 */
export async function claimDue(db: Queryable, batch: number, leaseSeconds: number): Promise<ClaimedNotification[]> {
  const { rows } = await db.query<Row>(
    `UPDATE notification_outbox o SET claimed_until = now() + make_interval(secs => $2), attempts = o.attempts + 1
      WHERE o.id IN (
        SELECT id FROM notification_outbox
         WHERE status = 'pending' AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
         ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING o.id, o.notification_id, o.request_id, o.kind, o.channel, o.target, o.message, o.attempts, o.created_at`,
    [batch, leaseSeconds],
  );
  return rows
    .map((r) => ({ id: r.id, notificationId: r.notification_id, requestId: r.request_id, kind: r.kind, channel: r.channel, target: r.target, message: r.message, attempts: r.attempts, createdAt: r.created_at }))
    .sort((a, b) => Number(a.id) - Number(b.id));
}

/** Delivered. */
export async function markSent(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE notification_outbox SET status = 'sent', sent_at = now(), claimed_until = NULL, last_error = NULL WHERE id = $1`, [id]);
}

/** Not delivered this time: due again after `retryInMs`, with the reason. */
export async function markRetry(db: Queryable, id: string, retryInMs: number, error: string): Promise<void> {
  await db.query(`UPDATE notification_outbox SET next_attempt_at = now() + make_interval(secs => $2), claimed_until = NULL, last_error = $3 WHERE id = $1`, [
    id,
    retryInMs / 1000,
    error,
  ]);
}

/** Gives claimed rows back unsent (a dispatcher stopping mid-pass), so the next pass need not wait for the lease. */
export async function releaseClaims(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`UPDATE notification_outbox SET claimed_until = NULL WHERE id = ANY($1::bigint[]) AND status = 'pending'`, [ids]);
}

/** Never deliverable: kept, with the reason, and never tried again. */
export async function markFailed(db: Queryable, id: string, error: string): Promise<void> {
  await db.query(`UPDATE notification_outbox SET status = 'failed', claimed_until = NULL, last_error = $2 WHERE id = $1`, [id, error]);
}

/** How many notifications are pending, sent and failed. */
export async function countNotifications(db: Queryable): Promise<NotificationCounts> {
  const { rows } = await db.query<{ status: keyof NotificationCounts; n: string }>(`SELECT status, count(*) AS n FROM notification_outbox GROUP BY status`);
  const counts: NotificationCounts = { pending: 0, sent: 0, failed: 0 };
  for (const r of rows) counts[r.status] = Number(r.n);
  return counts;
}

/**
 * Forgets delivered notifications older than `days` (failed ones stay, with their reason). A repeat of such an
 * old id would be queued again, which no activity retry comes near.
 */
export async function pruneSent(db: Queryable, days: number): Promise<number> {
  const res = await db.query(`DELETE FROM notification_outbox WHERE status = 'sent' AND sent_at < now() - make_interval(days => $1)`, [days]);
  return res.rowCount ?? 0;
}
