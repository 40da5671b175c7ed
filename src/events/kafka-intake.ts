/**
 * Kafka intake: erasure requests read from a topic, taken exactly as `POST /erasures` takes them (the same
 * schema, the same use case, `requestId` required as the idempotency key).
 *
 * One message at a time per process, committed only once it is settled: accepted (the ledger holds the
 * request) or dead-lettered (the dead-letter topic acknowledged it). A process killed at any point leaves
 * every message it had not committed to the next member of the group, and a message taken twice is the
 * same request again: nothing lost, nothing twice. A message that can never be accepted is dead-lettered,
 * so it cannot block its partition; anything else (the ledger down, the broker gone) is retried with
 * backoff, without committing or dead-lettering.
 *
 * The dead-letter message is published here, directly, before the commit: the one publish outside the
 * outbox relay. The outbox exists to make an event as durable as the state change it reports, and a
 * rejected message changes no state; the source message, still uncommitted, is the durable record until
 * the broker has acknowledged its dead letter.
 */
import { createHash } from 'node:crypto';
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes, stringDeserializer, type Message, type MessagesStream } from '@platformatic/kafka';
import { erasureRequestSchema, requestIdSchema } from '../api/schemas';
import { subjectIdentifiersSchema } from '../domain';
import { createKafkaAdmin, createProducer, ensureTopics, type EventProducer } from './kafka-client';
import type { Logger } from '../logger';
import type { UseCases } from '../use-cases';
import { UseCaseError } from '../use-cases/errors';

/** Partitions the intake topic is created with when it does not exist (more API processes can share it). */
export const INTAKE_PARTITIONS = 3;

/** Why a message was dead-lettered. */
export type DeadLetterReason = 'not_json' | 'invalid' | 'missing_request_id' | 'conflict';

/**
 * The dead-letter message. It never carries the source message (whose body names the subject): its
 * coordinates find it in the source topic, and `sha256` (of its exact bytes) confirms it is the one.
 */
export interface IntakeDeadLetter {
  reason: DeadLetterReason;
  /** Which fields failed and why, without any value (for `invalid`, `missing_request_id` and `conflict`). */
  detail?: string;
  /** The message's requestId, when it had a well-formed one. */
  requestId?: string;
  topic: string;
  partition: number;
  offset: number;
  /** When the engine read the message (ISO 8601). */
  receivedAt: string;
  sha256: string;
}

export interface KafkaIntakeOptions {
  brokers: readonly string[];
  topic: string;
  groupId: string;
  deadLetterTopic: string;
  /** The use case `POST /erasures` calls. */
  submit: UseCases['submit'];
  logger: Logger;
  /** Backoff between retries of a transient failure, doubling from `initialMs` up to `maxMs`. */
  retry?: { initialMs?: number; maxMs?: number };
  /** How soon the group gives a silent (killed) member's partitions to another (default 30 s). */
  sessionTimeoutMs?: number;
}

export interface KafkaIntake {
  /** Leaves the group; a message being handled is left uncommitted, for the next member. */
  stop(): Promise<void>;
}

type IntakeMessage = Message<string, Buffer, string, string>;
type Verdict = { kind: 'accepted' } | ({ kind: 'rejected' } & Pick<IntakeDeadLetter, 'reason' | 'detail' | 'requestId'>);

// Field names a dead-letter detail may name; any other path segment (an unknown key, a custom identifier's
// name) is the sender's text and could be anything, an identifier included.
const knownFields = new Set<string>([...Object.keys(erasureRequestSchema.shape), ...Object.keys(subjectIdentifiersSchema.shape)]);
const MAX_LISTED_ISSUES = 5;

function describeIssues(issues: readonly { path: PropertyKey[]; code: string; message: string }[]): string {
  const lines = issues.slice(0, MAX_LISTED_ISSUES).map((i) => {
    const path = i.path.map((p) => (typeof p === 'string' && knownFields.has(p) ? p : '*')).join('.') || '(root)';
    // Zod names unknown keys in its message; say only that there were some.
    return `${path}: ${i.code === 'unrecognized_keys' ? 'unknown field' : i.message}`;
  });
  if (issues.length > MAX_LISTED_ISSUES) lines.push(`… and ${issues.length - MAX_LISTED_ISSUES} more`);
  return lines.join('; ');
}

/** A well-formed requestId of a parsed body, else undefined (a malformed one is the sender's text). */
function requestIdOf(body: unknown): string | undefined {
  const id = (body as { requestId?: unknown } | null)?.requestId;
  return requestIdSchema.safeParse(id).success ? (id as string) : undefined;
}

/** Decides what one message is; throws only for a transient failure (the caller retries). */
async function judge(value: Buffer, submit: UseCases['submit']): Promise<Verdict> {
  let body: unknown;
  try {
    body = JSON.parse(value.toString('utf8'));
  } catch {
    // JSON.parse quotes the input in its message: the reason says only that it was not JSON.
    return { kind: 'rejected', reason: 'not_json' };
  }
  const requestId = requestIdOf(body);
  const parsed = erasureRequestSchema.safeParse(body);
  if (!parsed.success) {
    const missing = body !== null && typeof body === 'object' && !('requestId' in body) ? 'requestId: required; ' : '';
    return { kind: 'rejected', reason: 'invalid', detail: missing + describeIssues(parsed.error.issues), requestId };
  }
  if (!parsed.data.requestId) return { kind: 'rejected', reason: 'missing_request_id', detail: 'requestId: required (the idempotency key of a message)' };
  try {
    await submit({ ...parsed.data, requestId: parsed.data.requestId });
    return { kind: 'accepted' };
  } catch (err) {
    // The API's 409 (and 400): permanent for this message. Anything else may pass on a retry.
    if (err instanceof UseCaseError && (err.kind === 'conflict' || err.kind === 'invalid')) {
      return { kind: 'rejected', reason: err.kind === 'conflict' ? 'conflict' : 'invalid', detail: err.message, requestId };
    }
    throw err;
  }
}

/** A member of the group that keeps each value as its bytes, so that its SHA-256 is of what was sent. */
function createIntakeConsumer(opts: KafkaIntakeOptions): Consumer<string, Buffer, string, string> {
  const sessionTimeout = opts.sessionTimeoutMs ?? 30_000;
  return new Consumer({
    clientId: `erasure-engine-${opts.groupId}`,
    bootstrapBrokers: [...opts.brokers],
    groupId: opts.groupId,
    autocommit: false,
    sessionTimeout,
    rebalanceTimeout: sessionTimeout,
    heartbeatInterval: Math.min(1_000, Math.floor(sessionTimeout / 3)),
    deserializers: { key: stringDeserializer, value: (data?: Buffer) => data, headerKey: stringDeserializer, headerValue: stringDeserializer },
  });
}

const describeError = (err: unknown) => (err instanceof Error ? { name: err.name, message: err.message.slice(0, 200) } : { type: typeof err });

/**
 * Joins the intake group and takes requests until stopped. Never throws and never gives up: a broker that
 * is down or a ledger that fails is logged and retried with backoff.
 * @example const intake = startKafkaIntake({ brokers, topic, groupId, deadLetterTopic, submit: useCases.submit, logger }); … await intake.stop();
 */
export function startKafkaIntake(opts: KafkaIntakeOptions): KafkaIntake {
  const initialMs = opts.retry?.initialMs ?? 500;
  const maxMs = opts.retry?.maxMs ?? 30_000;
  let stopped = false;
  let wake: () => void = () => undefined;
  let stream: MessagesStream<string, Buffer, string, string> | undefined;
  const producer: EventProducer = createProducer(opts.brokers, { clientId: 'erasure-engine-intake-dead-letter' });
  const log = opts.logger.child({ component: 'kafka-intake', topic: opts.topic });

  const pause = (attempt: number) =>
    new Promise<void>((resolve) => {
      const ms = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 16)) * (0.75 + Math.random() / 2);
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const deadLetter = async (message: IntakeMessage, value: Buffer, verdict: Verdict & { kind: 'rejected' }) => {
    const letter: IntakeDeadLetter = {
      reason: verdict.reason,
      ...(verdict.detail ? { detail: verdict.detail } : {}),
      ...(verdict.requestId ? { requestId: verdict.requestId } : {}),
      topic: message.topic,
      partition: message.partition,
      offset: Number(message.offset),
      receivedAt: new Date().toISOString(),
      sha256: createHash('sha256').update(value).digest('hex'),
    };
    // Keyed by the source coordinates, never by the source key: a sender may key by e-mail.
    const key = `${message.topic}:${message.partition}:${message.offset}`;
    await producer.send({ messages: [{ topic: opts.deadLetterTopic, key, value: JSON.stringify(letter) }] });
    log.warn({ reason: letter.reason, detail: letter.detail, requestId: letter.requestId, partition: letter.partition, offset: letter.offset }, 'intake message dead-lettered');
  };

  /** Settles one message, retrying transient failures until it is settled or the intake stops. */
  const settle = async (message: IntakeMessage): Promise<void> => {
    const value = message.value ?? Buffer.alloc(0);
    for (let attempt = 0; !stopped; attempt++) {
      try {
        const verdict = await judge(value, opts.submit);
        if (verdict.kind === 'rejected') await deadLetter(message, value, verdict);
        break;
      } catch (err) {
        log.warn({ partition: message.partition, offset: Number(message.offset), attempt, err: describeError(err) }, 'intake message not settled; retrying');
        await pause(attempt);
      }
    }
    if (stopped) return;
    try {
      await message.commit();
    } catch (err) {
      // Most likely a rebalance took the partition: its next owner takes the message again, a no-op.
      log.warn({ partition: message.partition, offset: Number(message.offset), err: describeError(err) }, 'intake offset not committed');
    }
  };

  const run = async () => {
    for (let attempt = 0; !stopped; attempt++) {
      const consumer = createIntakeConsumer(opts);
      try {
        const admin = createKafkaAdmin(opts.brokers, 'erasure-engine-intake-admin');
        await ensureTopics(admin, [
          { name: opts.topic, partitions: INTAKE_PARTITIONS },
          { name: opts.deadLetterTopic, partitions: 1 },
        ]).finally(() => admin.close());
        stream = await consumer.consume({
          topics: [opts.topic],
          autocommit: false,
          mode: MessagesStreamModes.COMMITTED,
          fallbackMode: MessagesStreamFallbackModes.EARLIEST,
        });
        if (stopped) break;
        log.info({ groupId: opts.groupId }, 'Kafka intake consuming');
        attempt = 0;
        for await (const message of stream as AsyncIterable<IntakeMessage>) {
          await settle(message);
          if (stopped) break;
        }
      } catch (err) {
        if (!stopped) log.warn({ attempt, err: describeError(err) }, 'Kafka intake stopped consuming; reconnecting');
      } finally {
        await stream?.close().catch(() => undefined);
        stream = undefined;
        try {
          await consumer.close(true);
        } catch {
          // Leaving anyway: the group drops a member it no longer hears from.
        }
      }
      if (!stopped) await pause(attempt);
    }
  };

  const running = run();
  return {
    async stop() {
      stopped = true;
      wake();
      await stream?.close().catch(() => undefined);
      await running;
      await producer.close().catch(() => undefined);
    },
  };
}
