/**
 * The notification dispatcher: runs in the worker process and delivers what the activities queued
 * (./queue.ts). Each pass claims due rows with a lease, sends each on its own, and marks it sent; a failure
 * that may pass (mail server down, webhook 5xx) makes the row due again later with a doubling delay and the
 * error kept in `last_error`; one that cannot (a recipient refused for good, a webhook answering 4xx, a
 * webhook the catalog no longer has, or a row still undelivered after `giveUpAfterMs`) marks it failed with
 * the reason, records `notification.failed` in the request's audit trail and counts it in the metrics. One
 * row's failure never holds up the others.
 */
import type { AuditLog } from '../activities';
import type { Catalog } from '../catalog/schema';
import type { Pool } from '../ledger/db';
import type { Logger } from '../logger';
import { NotificationSendError, postChatWebhook, type EmailChannel, type WebhookChannelOptions } from './channels';
import { claimDue, markFailed, markRetry, markSent, pruneSent, releaseClaims, type ClaimedNotification } from './queue';
import type { NotifyWebhook } from './schema';

/** The audit event of a notification that can never be delivered. */
export const NOTIFICATION_FAILED_EVENT = 'notification.failed';

/** Counters the dispatcher keeps (also exported to Prometheus by ./metrics.ts). */
export interface DispatcherCounters {
  sent: number;
  retried: number;
  failed: number;
}

export interface DispatcherOptions {
  pool: Pool;
  /** The worker's catalog: webhook URLs and secrets are read from it when sending, never from the queue. */
  catalog: Catalog;
  email: EmailChannel;
  /** Where `notification.failed` is recorded. */
  audit?: AuditLog;
  logger: Logger;
  webhook?: WebhookChannelOptions;
  /** Rows per pass (default 5: sent one after another, a pass stays well inside its lease). */
  batch?: number;
  /** Pass interval when nothing wakes it (default 1000 ms). */
  pollMs?: number;
  /** First retry delay (default 1 s), doubling per attempt up to `maxBackoffMs` (default 5 min). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A notification undelivered this long after it was queued is marked failed (default 7 days). */
  giveUpAfterMs?: number;
  /** Delivered notifications are kept this many days (default 30), then deleted; failed ones stay. */
  keepSentDays?: number;
  /** Called for each outcome (metrics). */
  onOutcome?: (channel: string, outcome: 'sent' | 'retry' | 'failed') => void;
}

/** A running dispatcher. */
export interface NotificationDispatcher {
  readonly counters: Readonly<DispatcherCounters>;
  /** Runs a pass now (something was queued). */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * How long a claim lasts. A pass sends its rows one after another, each bounded (SMTP: 10 s to connect, 10 s
 * for the greeting, 30 s of silence; webhook: 10 s), so a full batch of 5 ends well before another
 * dispatcher could take its rows up again and send them a second time.
 */
const LEASE_SECONDS = 300;
const PRUNE_EVERY_MS = 3_600_000;
const describe = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 500);

/** The webhook a queued target names, from the worker's catalog. */
export function webhookFor(catalog: Catalog, target: string): NotifyWebhook | undefined {
  if (target === 'escalation') return catalog.escalation?.notify.webhook;
  const [what, id] = [target.slice(0, target.indexOf(':')), target.slice(target.indexOf(':') + 1)];
  if (what === 'system') return catalog.systems.find((s) => s.id === id)?.notify?.webhook;
  if (what === 'consumer') return catalog.consumers.find((c) => c.id === id)?.notify?.webhook;
  return undefined;
}

/**
 * Starts the dispatcher; it never throws, it logs and tries again.
 * @example const d = startNotificationDispatcher({ pool, catalog, email: emailChannel(smtp), logger }); … await d.stop();
 */
export function startNotificationDispatcher(opts: DispatcherOptions): NotificationDispatcher {
  const batch = opts.batch ?? 5;
  const pollMs = opts.pollMs ?? 1000;
  const minBackoffMs = opts.minBackoffMs ?? 1000;
  const maxBackoffMs = opts.maxBackoffMs ?? 5 * 60_000;
  const giveUpAfterMs = opts.giveUpAfterMs ?? 7 * 86_400_000;
  const counters: DispatcherCounters = { sent: 0, retried: 0, failed: 0 };
  let stopped = false;
  let pending = false;
  let wakeUp: (() => void) | undefined;
  const wake = () => {
    pending = true;
    wakeUp?.();
  };
  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      if (pending || stopped) return resolve();
      // Unref'd: a dispatcher nobody stopped never keeps its process alive.
      const timer = setTimeout(done, ms).unref();
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  const send = async (n: ClaimedNotification) => {
    if (n.channel === 'email') return opts.email.send(n.target, n.message, { 'X-Erasure-Request': n.requestId, 'X-Erasure-Notification': n.notificationId });
    const hook = webhookFor(opts.catalog, n.target);
    if (!hook) throw new NotificationSendError(`the catalog has no notify webhook for ${n.target} any more`, true);
    return postChatWebhook(hook, n.message, n.notificationId, opts.webhook);
  };

  const fail = async (n: ClaimedNotification, reason: string) => {
    await markFailed(opts.pool, n.id, reason);
    counters.failed++;
    opts.onOutcome?.(n.channel, 'failed');
    opts.logger.error({ requestId: n.requestId, kind: n.kind, channel: n.channel, attempts: n.attempts, reason }, 'notification cannot be delivered; marked failed');
    await opts.audit
      ?.recordEvent({ requestId: n.requestId, type: NOTIFICATION_FAILED_EVENT, detail: { notificationId: n.notificationId, kind: n.kind, channel: n.channel, attempts: n.attempts, reason } })
      .catch((err: unknown) => opts.logger.warn({ requestId: n.requestId, err: { message: describe(err) } }, 'could not record the failed notification in the audit trail'));
  };

  const deliver = async (n: ClaimedNotification) => {
    try {
      await send(n);
    } catch (err) {
      const e = err instanceof NotificationSendError ? err : new NotificationSendError(describe(err), false);
      if (e.permanent) return fail(n, e.message);
      if (Date.now() - n.createdAt.getTime() > giveUpAfterMs) return fail(n, `still undeliverable after ${n.attempts} attempts (last: ${e.message})`);
      const retryInMs = Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(n.attempts - 1, 20));
      await markRetry(opts.pool, n.id, retryInMs, e.message);
      counters.retried++;
      opts.onOutcome?.(n.channel, 'retry');
      // One line for the first failure of a row, then every tenth: an outage must not flood the log.
      if (n.attempts === 1 || n.attempts % 10 === 0) {
        opts.logger.warn({ requestId: n.requestId, kind: n.kind, channel: n.channel, attempts: n.attempts, retryInMs, error: e.message }, 'notification not delivered; will retry');
      }
      return;
    }
    await markSent(opts.pool, n.id);
    counters.sent++;
    opts.onOutcome?.(n.channel, 'sent');
  };

  let prunedAt = 0;
  const prune = async () => {
    if (Date.now() - prunedAt < PRUNE_EVERY_MS) return;
    prunedAt = Date.now();
    const n = await pruneSent(opts.pool, opts.keepSentDays ?? 30);
    if (n > 0) opts.logger.info({ deleted: n }, 'old delivered notifications deleted');
  };

  const loop = async () => {
    let streak = 0;
    while (!stopped) {
      pending = false;
      try {
        await prune();
        const rows = await claimDue(opts.pool, batch, LEASE_SECONDS);
        // Sent one after another: a slow webhook delays the others by at most its timeout.
        for (const [i, n] of rows.entries()) {
          if (stopped) {
            await releaseClaims(opts.pool, rows.slice(i).map((r) => r.id));
            break;
          }
          await deliver(n).catch((err: unknown) => opts.logger.warn({ requestId: n.requestId, err: { message: describe(err) } }, 'notification outcome not recorded; the lease will expire and it is tried again'));
        }
        streak = 0;
        if (rows.length >= batch) continue;
        await idle(pollMs);
      } catch (err) {
        streak++;
        if (streak === 1 || streak % 10 === 0) opts.logger.warn({ err: { message: describe(err) }, failedPasses: streak }, 'notification dispatcher pass failed (database?)');
        await idle(Math.min(10_000, 250 * 2 ** Math.min(streak, 6)));
      }
    }
  };
  const running = loop();

  return {
    counters,
    wake,
    async stop() {
      stopped = true;
      wakeUp?.();
      await running;
      opts.email.close();
    },
  };
}
