/**
 * Notifications, wired for a worker: the queue the activities write to, the dispatcher that delivers, and
 * the {@link Notifier} decoration that adds both to the log lines. See ./notifier.ts for who hears of what.
 */
import type { AuditLog, Notifier } from '../activities';
import type { Engine } from '../engine';
import { emailChannel, type EmailChannel, type WebhookChannelOptions } from './channels';
import { startNotificationDispatcher, type DispatcherOptions, type NotificationDispatcher } from './dispatcher';
import { registerNotificationMetrics } from './metrics';
import { notificationQueue, type NotificationQueue } from './notifier';

export { NotificationSendError, emailChannel, postChatWebhook, type EmailChannel, type SmtpSettings } from './channels';
export { NOTIFICATION_FAILED_EVENT, startNotificationDispatcher, type NotificationDispatcher } from './dispatcher';
export { notificationQueue, type ManualErasureRequest, type NotificationQueue } from './notifier';
export { renderNotice, type Notice, type NoticeFacts } from './messages';

/**
 * `base` (the log lines) plus the queued notifications: each call queues first, so a failure to queue fails
 * the activity, which Temporal retries (the stable ids keep one copy).
 * @example const notifier = withNotifications(logNotifier(logger), queue);
 */
export function withNotifications(base: Notifier, queue: NotificationQueue): Notifier {
  return {
    ...base,
    async remind(r) {
      await queue.remind(r);
      await base.remind(r);
    },
    async escalate(e) {
      await queue.escalate(e);
      await base.escalate(e);
    },
    async requestErasure(r) {
      await queue.requestErasure(r);
      await base.requestErasure?.(r);
    },
  };
}

export interface WorkerNotificationOptions {
  /** Where `notification.failed` is recorded (the worker's ledger audit). */
  audit?: AuditLog;
  /** Replaces the SMTP channel built from `SMTP_*`. */
  email?: EmailChannel;
  webhook?: WebhookChannelOptions;
  /** Dispatcher tuning (tests shorten the backoff). */
  dispatcher?: Pick<DispatcherOptions, 'pollMs' | 'minBackoffMs' | 'maxBackoffMs' | 'giveUpAfterMs' | 'batch'>;
}

/** A worker's notifications: the queue, and the running dispatcher to stop with the worker. */
export interface WorkerNotifications {
  queue: NotificationQueue;
  dispatcher: NotificationDispatcher;
  stop(): Promise<void>;
}

/**
 * Builds the queue and starts the dispatcher from the engine's configuration and catalog.
 * @example const n = startWorkerNotifications(engine, { audit }); const notifier = withNotifications(logNotifier(logger), n.queue); … await n.stop();
 */
export function startWorkerNotifications(engine: Engine, opts: WorkerNotificationOptions = {}): WorkerNotifications {
  const { config } = engine;
  const email =
    opts.email ??
    emailChannel({ host: config.SMTP_HOST, port: config.SMTP_PORT, from: config.SMTP_FROM, user: config.SMTP_USER, password: config.SMTP_PASSWORD, tls: config.SMTP_TLS });
  const dispatcher = startNotificationDispatcher({
    pool: engine.pool,
    catalog: engine.catalog,
    email,
    audit: opts.audit,
    logger: engine.logger,
    webhook: opts.webhook,
    onOutcome: registerNotificationMetrics(engine.metrics.registry, engine.pool),
    ...opts.dispatcher,
  });
  const queue = notificationQueue({
    pool: engine.pool,
    catalog: engine.catalog,
    logger: engine.logger,
    commands: { temporalAddress: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE, publicUrl: config.ENGINE_PUBLIC_URL },
    onQueued: () => dispatcher.wake(),
  });
  return { queue, dispatcher, stop: () => dispatcher.stop() };
}
