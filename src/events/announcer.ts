/**
 * Announcing a request to its consumers when it reaches coordination. Everyone reads `erasure.requested` on
 * the shared events topic (subject reference only); a consumer whose catalog entry names identifiers also
 * gets those, and only those, on its own topic or in the body of its signed webhook. Kafka messages leave
 * through the outbox (./outbox.ts) like every other event.
 */
import type { Logger } from '../logger';
import type { Catalog } from '../catalog/schema';
import type { ConsumerAnnouncement } from '../activities/types';
import type { Notifier } from '../activities';
import type { Queryable } from '../ledger/db';
import { identifierValue, subjectIdentifiersSchema, workflowIdFor, type SubjectIdentifiers } from '../domain';
import { activityContext, DEFAULT_TRANSIENT_WINDOW_MS, humanDuration, transientNetworkCode } from '../systems/connector-kit';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from '../systems/webhook/connector';
import { REQUESTED_EVENT, consumerTopic } from './consumers';
import { enqueue, type OutboxMessage } from './outbox';

export interface AnnouncerDeps {
  /** The engine database, for the outbox. */
  db: Queryable;
  /** The worker's catalog: how each consumer is told and which identifiers it gets. */
  catalog: Catalog;
  /** `KAFKA_EVENTS_TOPIC`. */
  eventsTopic: string;
  /**
   * Kafka is configured, so a message with identifiers queued for a consumer's own topic leaves the outbox
   * (and the engine database) at once. Without Kafka none is queued: identifiers must not wait in the database.
   */
  kafka: boolean;
  logger: Logger;
  /** How long a webhook may keep failing transiently, from the activity's first scheduling, before it is given up. */
  transientWindowMs?: number;
  fetch?: typeof fetch;
  now?: () => Date;
}

/** Milliseconds before a webhook announcement is abandoned (and retried). */
const WEBHOOK_TIMEOUT_MS = 10_000;

/** A webhook announcement that failed in a way a retry may cure. */
class AnnouncementRetry extends Error {
  override readonly name = 'AnnouncementRetry';
}

/**
 * Announces a request to its consumers; idempotent, so the activity may be retried: the outbox keeps one
 * message per event id (`<requestId>:erasure.requested`, and `…:<consumer>` for a consumer's own topic), and
 * a webhook call carries the same `Idempotency-Key` each time. A webhook that refuses the call, or keeps
 * failing past the transient window, is given up with an error in the log: the consumer then times out as
 * its catalog entry says (escalating if critical), rather than holding every other erasure step back.
 * @example const announce = consumerAnnouncer({ db: pool, catalog, eventsTopic: 'erasure.events', kafka: true, logger }); await announce(a);
 */
export function consumerAnnouncer(deps: AnnouncerDeps): (a: ConsumerAnnouncement) => Promise<void> {
  const now = deps.now ?? (() => new Date());
  const log = deps.logger;
  return async (a) => {
    const shared = { type: REQUESTED_EVENT, requestId: a.requestId, occurredAt: now().toISOString(), subjectRef: a.subjectRef, deadline: a.deadline, consumers: a.consumers };
    const messages: OutboxMessage[] = [{ eventId: `${a.requestId}:${REQUESTED_EVENT}`, topic: deps.eventsTopic, key: a.requestId, value: shared }];
    const webhooks: Array<() => Promise<void>> = [];
    const subject = normalised(a.subject);
    for (const id of a.consumers) {
      const entry = deps.catalog.consumers.find((c) => c.id === id);
      if (!entry) {
        log.warn({ requestId: a.requestId, consumer: id }, "consumer is not in the worker's catalog: it gets the shared announcement only");
        continue;
      }
      const eventId = `${a.requestId}:${REQUESTED_EVENT}:${id}`;
      const identifiers = entry.identifiers && subject ? pick(subject, entry.identifiers) : undefined;
      if (entry.identifiers && !subject) {
        log.warn({ requestId: a.requestId, consumer: id }, 'consumer asks for identifiers, but the workflow passed none to the announcement: it gets the shared announcement only');
      }
      if (entry.announce !== 'kafka') {
        const hook = entry.announce;
        webhooks.push(() => postAnnouncement(deps, hook, { ...shared, eventId, consumer: id, workflowId: workflowIdFor(a.requestId), ...(identifiers ? { identifiers } : {}) }));
        continue;
      }
      if (!identifiers) continue;
      const topic = consumerTopic(entry);
      if (!deps.kafka || topic === deps.eventsTopic) {
        const why = deps.kafka ? 'its topic is the shared events topic' : 'Kafka is not configured (KAFKA_BROKERS)';
        log.warn({ requestId: a.requestId, consumer: id, topic }, `consumer's identifiers not sent (${why}): it gets the shared announcement only`);
        continue;
      }
      messages.push({ eventId, topic, key: a.requestId, value: { ...shared, consumer: id, identifiers } });
    }
    // One statement, so its own transaction: a retried activity finds the messages already queued.
    await enqueue(deps.db, messages);
    const failures = (await Promise.allSettled(webhooks.map((post) => post()))).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length > 0) throw failures[0].reason;
  };
}

/** The subject as the intake would have accepted it, or undefined (absent, or breaking a rule). */
function normalised(subject: SubjectIdentifiers | undefined): SubjectIdentifiers | undefined {
  if (!subject) return undefined;
  const parsed = subjectIdentifiersSchema.safeParse(subject);
  return parsed.success ? parsed.data : undefined;
}

/** The subject's values for `names` (the ones it has), keyed by name (`email`, `custom.<key>`). */
function pick(subject: SubjectIdentifiers, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, identifierValue(subject, n)] as const).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}

/** One signed POST; throws {@link AnnouncementRetry} for what a retry may cure, logs and returns otherwise. */
async function postAnnouncement(deps: AnnouncerDeps, hook: { webhook: string; secret: string }, body: Record<string, unknown> & { eventId: string; requestId: string; consumer: string }): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const doFetch = deps.fetch ?? fetch;
  const text = JSON.stringify({ ...body, sentAt: now().toISOString() });
  const timestamp = String(Math.floor(now().getTime() / 1000));
  const where = { requestId: body.requestId, consumer: body.consumer };
  let status: number;
  try {
    const res = await doFetch(hook.webhook, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': body.eventId,
        [SIGNATURE_HEADER]: signWebhook(hook.secret, timestamp, text),
        [TIMESTAMP_HEADER]: timestamp,
        'user-agent': 'erasure-engine',
      },
      body: text,
      // A redirect would re-send identifiers to a host the catalog never named.
      redirect: 'manual',
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    status = res.status;
    await res.body?.cancel().catch(() => undefined);
  } catch (err) {
    const code = transientNetworkCode(err) ?? ((err as Error)?.name === 'TimeoutError' || (err as Error)?.name === 'AbortError' ? 'TIMEOUT' : (err as Error)?.name);
    return transient(deps, where, `webhook call failed (${code ?? 'error'})`);
  }
  if (status >= 200 && status < 300) {
    deps.logger.info({ ...where, httpStatus: status }, 'consumer announced by webhook');
    return;
  }
  if (status === 408 || status === 429 || status >= 500) return transient(deps, where, `webhook answered HTTP ${status}`);
  deps.logger.error({ ...where, httpStatus: status }, 'consumer webhook refused the announcement; not retried: the consumer will time out unless it reports otherwise');
}

/** Retry (by the activity's retry policy) while within the transient window; past it, log and give up. */
function transient(deps: AnnouncerDeps, where: { requestId: string; consumer: string }, fault: string): void {
  const windowMs = deps.transientWindowMs ?? DEFAULT_TRANSIENT_WINDOW_MS;
  const scheduled = activityContext()?.info.scheduledTimestampMs;
  const lasted = typeof scheduled === 'number' ? Date.now() - scheduled : 0;
  if (lasted <= windowMs) throw new AnnouncementRetry(`consumer "${where.consumer}": ${fault}; will retry`);
  deps.logger.error({ ...where, fault, failingFor: humanDuration(lasted) }, 'consumer webhook still failing past the transient window; given up: the consumer will time out unless it reports otherwise');
}

/**
 * `notifier` with its `announce` also telling the consumers through `announce` (log line kept).
 * @example notifier: withConsumerAnnouncements(logNotifier(logger), consumerAnnouncer(deps))
 */
export function withConsumerAnnouncements(notifier: Notifier, announce: (a: ConsumerAnnouncement) => Promise<void>): Notifier {
  return {
    ...notifier,
    async announce(a) {
      await announce(a);
      await notifier.announce(a);
    },
  };
}
