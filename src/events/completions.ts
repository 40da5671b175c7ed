/**
 * The consumers' answers: a member of the completions group turns each into the workflow's
 * `consumerCompleted` action through the same use case as the HTTP route. What cannot be applied goes to the
 * dead-letter topic (through the outbox) with the reason; an offset is committed only once its message's
 * outcome is final.
 */
import type { Logger } from '../logger';
import type { Queryable } from '../ledger/db';
import type { UseCases } from '../use-cases';
import { UseCaseError } from '../use-cases/errors';
import { requestIdSchema } from '../api/schemas';
import { formatIssues } from '../domain';
import { id as consumerIdSchema } from '../systems/fields';
import { completionSchema, type DeadLetter } from './consumers';
import { enqueue } from './outbox';
import { createConsumer, createKafkaAdmin, ensureTopics, subscribe, type Bootstrap, type EventConsumer, type EventStream, type TopicSpec } from './kafka-client';

export interface CompletionsOptions {
  /** One `host:port` of the cluster (`KAFKA_BROKERS`). */
  bootstrap: Bootstrap;
  topic: string;
  groupId: string;
  deadLetterTopic: string;
  /** The engine database: dead letters leave through the outbox. */
  db: Queryable;
  operatorAction: UseCases['operatorAction'];
  logger: Logger;
  /** More topics to create at start if missing (the events topic, consumers' own topics). */
  alsoEnsure?: readonly TopicSpec[];
  /** Backoff between retries of an answer, and between reconnections (ms). */
  backoff?: { initialMs?: number; maxMs?: number };
}

export interface CompletionsConsumer {
  /** Leaves the group after the message under way; waits for it. */
  stop(): Promise<void>;
}

type Outcome = { kind: 'applied' | 'duplicate' } | { kind: 'dead'; reason: string } | { kind: 'retry'; reason: string };

/**
 * Joins the completions group and applies each answer, one at a time, until stopped. Never throws: a broker
 * that is down, a lost connection or a failing step is logged and retried with backoff. An answer is final
 * when the workflow accepted it, when it was already reported (a duplicate changes nothing), or when it went
 * to the dead-letter topic (unknown request or consumer, a closed request, malformed); until then (Temporal
 * or the database not answering, a request still queued) it is retried and its offset stays uncommitted.
 * @example const completions = startCompletionsConsumer({ bootstrap, topic, groupId, deadLetterTopic, db: pool, operatorAction: useCases.operatorAction, logger }); … await completions.stop();
 */
export function startCompletionsConsumer(opts: CompletionsOptions): CompletionsConsumer {
  const log = opts.logger;
  const initialMs = opts.backoff?.initialMs ?? 500;
  const maxMs = opts.backoff?.maxMs ?? 30_000;
  const delay = (attempt: number) => Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 16));
  const stopping = new AbortController();
  let current: EventConsumer | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopping.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      }
      stopping.signal.addEventListener('abort', done);
    });

  async function decide(value: string | undefined): Promise<{ outcome: Outcome; ids: { requestId?: string; consumer?: string } }> {
    let body: unknown;
    try {
      body = JSON.parse(value ?? '');
    } catch {
      return { outcome: { kind: 'dead', reason: 'malformed: not JSON' }, ids: {} };
    }
    const parsed = completionSchema.safeParse(body);
    if (!parsed.success) return { outcome: { kind: 'dead', reason: `malformed: ${formatIssues(parsed.error)}` }, ids: validIds(body) };
    const { requestId, consumer, status, note } = parsed.data;
    const ids = { requestId, consumer };
    try {
      await opts.operatorAction(requestId, 'consumerCompleted', { consumer, status, ...(note ? { note } : {}) }, `kafka:${consumer}`);
      return { outcome: { kind: 'applied' }, ids };
    } catch (err) {
      return { outcome: classify(err), ids };
    }
  }

  async function handle(m: { value: string | undefined; topic: string; partition: number; offset: bigint; commit(): void | Promise<void> }): Promise<void> {
    const at = { topic: m.topic, partition: m.partition, offset: String(m.offset) };
    for (let attempt = 0; !stopping.signal.aborted; attempt++) {
      try {
        const { outcome, ids } = await decide(m.value);
        if (outcome.kind === 'retry') {
          log.warn({ ...at, ...ids, reason: outcome.reason, attempt: attempt + 1 }, 'consumer completion not applied yet; will retry');
          await sleep(delay(attempt));
          continue;
        }
        if (outcome.kind === 'dead') {
          const letter: DeadLetter = { reason: outcome.reason, ...ids, ...at, failedAt: new Date().toISOString() };
          await enqueue(opts.db, [{ eventId: `dead-letter:${m.topic}:${m.partition}:${m.offset}`, topic: opts.deadLetterTopic, key: ids.requestId ?? `${m.partition}:${m.offset}`, value: { ...letter } }]);
          log.warn({ ...at, ...ids, reason: outcome.reason }, 'consumer completion sent to the dead-letter topic');
        } else {
          log.info({ ...at, ...ids, duplicate: outcome.kind === 'duplicate' }, outcome.kind === 'duplicate' ? 'consumer completion already reported; nothing changed' : 'consumer completion applied');
        }
      } catch (err) {
        // The outbox (the database) did not take the dead letter: same as any other transient step.
        log.warn({ ...at, err: (err as Error).message, attempt: attempt + 1 }, 'consumer completion could not be finished; will retry');
        await sleep(delay(attempt));
        continue;
      }
      try {
        await m.commit();
      } catch (err) {
        // Delivered again to whoever owns the partition next: handling it twice changes nothing.
        log.warn({ ...at, err: (err as Error).message }, 'offset of a consumer completion not committed; it will be read again');
      }
      return;
    }
  }

  async function runOnce(): Promise<boolean> {
    const admin = createKafkaAdmin(opts.bootstrap, 'erasure-engine-completions-admin');
    try {
      await ensureTopics(admin, [{ name: opts.topic, partitions: 3 }, { name: opts.deadLetterTopic, partitions: 1 }, ...(opts.alsoEnsure ?? [])]);
    } finally {
      await admin.close().catch(() => undefined);
    }
    if (stopping.signal.aborted) return false;
    const consumer = createConsumer({ bootstrap: opts.bootstrap, groupId: opts.groupId, clientId: 'erasure-engine-completions' });
    current = consumer;
    let handled = false;
    try {
      const stream: EventStream = await subscribe(consumer, [opts.topic]);
      log.info({ topic: opts.topic, groupId: opts.groupId }, 'reading consumer completions');
      for await (const m of stream) {
        await handle(m);
        handled = true;
        if (stopping.signal.aborted) break;
      }
    } finally {
      current = undefined;
      await closeQuietly(consumer);
    }
    return handled;
  }

  const loop = (async () => {
    for (let failures = 0; !stopping.signal.aborted; ) {
      try {
        failures = (await runOnce()) ? 0 : failures;
      } catch (err) {
        if (stopping.signal.aborted) break;
        log.warn({ err: (err as Error).message, attempt: failures + 1 }, 'consumer completions: Kafka failed; reconnecting');
        failures++;
      }
      await sleep(delay(failures));
    }
  })();

  return {
    async stop() {
      stopping.abort();
      if (current) await closeQuietly(current);
      await loop;
    },
  };
}

/** Leaves the group at once; a consumer that is already closed, or cannot reach the broker, is left as it is. */
async function closeQuietly(consumer: EventConsumer): Promise<void> {
  // The typings pick the callback overload for `close(true)`; without a callback it returns a promise.
  await Promise.resolve(consumer.close(true) as unknown as Promise<void>).catch(() => undefined);
}

/** The workflow's or the use case's answer, as an outcome of one completion. */
function classify(err: unknown): Outcome {
  if (!(err instanceof UseCaseError)) return { kind: 'retry', reason: (err as Error)?.message ?? 'unknown error' };
  switch (err.kind) {
    case 'not_found':
      return { kind: 'dead', reason: 'unknown request' };
    case 'unavailable':
    case 'busy':
      return { kind: 'retry', reason: err.message };
    case 'invalid':
      return { kind: 'dead', reason: `refused: ${err.message}` };
    case 'conflict':
      if (/already reported/.test(err.message)) return { kind: 'duplicate' };
      if (/unknown consumer/.test(err.message)) return { kind: 'dead', reason: 'unknown consumer' };
      // Its workflow starts within moments (the intake relay): the answer waits for it.
      if (/is queued/.test(err.message)) return { kind: 'retry', reason: err.message };
      return { kind: 'dead', reason: `refused: ${err.message}` };
  }
}

/** A malformed answer's request id and consumer, each only if it is well formed (no free text reaches the letter). */
function validIds(body: unknown): { requestId?: string; consumer?: string } {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const requestId = requestIdSchema.safeParse(b.requestId);
  const consumer = consumerIdSchema.safeParse(b.consumer);
  return { ...(requestId.success ? { requestId: requestId.data } : {}), ...(consumer.success ? { consumer: consumer.data } : {}) };
}
