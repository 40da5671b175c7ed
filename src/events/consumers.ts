/**
 * The contract between the engine and its downstream consumers (docs/connectors.md, "Consumers"): topic
 * names, and the shapes of the messages both ways. The announce activity (./announcer.ts) tells consumers
 * that a request reached coordination; the completions consumer (./completions.ts) reads their answers.
 */
import { z } from 'zod';
import type { Catalog, ConsumerConfig } from '../catalog/schema';
import { requestIdSchema } from '../api/schemas';
import { consumerOutcomes } from '../domain';
import { id as consumerIdSchema } from '../systems/fields';

/** The type of the event that announces a request to its consumers. */
export const REQUESTED_EVENT = 'erasure.requested';

/** The topic a consumer's identifiers go to: its `topic`, or `erasure.consumer.<id>`. */
export const consumerTopic = (c: Pick<ConsumerConfig, 'id' | 'topic'>): string => c.topic ?? `erasure.consumer.${c.id}`;

/** The catalog's consumers that get identifiers on a topic of their own (those the engine must create). */
export const privateTopicConsumers = (catalog: Catalog): ConsumerConfig[] => catalog.consumers.filter((c) => c.announce === 'kafka' && c.identifiers !== undefined);

/** A consumer's answer on the completions topic. Strict: a misspelt key is refused, not dropped. */
export const completionSchema = z.strictObject({
  requestId: requestIdSchema,
  consumer: consumerIdSchema,
  status: z.enum(consumerOutcomes),
  note: z.string().trim().min(1).max(2000).optional(),
});
export type Completion = z.infer<typeof completionSchema>;

/** What the dead-letter topic gets: never the message itself (it may hold anything), only where it is. */
export const completionDeadLetterSchema = z.object({
  reason: z.string().describe('unknown request, unknown consumer, refused: <the workflow\'s reason>, or malformed: <what is wrong>'),
  requestId: z.string().optional().describe('The answer\'s requestId, when well formed'),
  consumer: z.string().optional().describe('The answer\'s consumer, when well formed'),
  topic: z.string().describe('Where the answer was read'),
  partition: z.number().int().nonnegative(),
  offset: z.string().describe('Its offset, as a decimal string'),
  failedAt: z.iso.datetime({ offset: true }),
});
export type DeadLetter = z.infer<typeof completionDeadLetterSchema>;

/**
 * `erasure.requested` as the events topic carries it; the copy on a consumer's own topic (and in its webhook
 * body) adds `consumer` and `identifiers`. For the AsyncAPI document.
 */
export const requestedEventSchema = z.object({
  type: z.literal(REQUESTED_EVENT),
  eventId: z.string().describe('`<requestId>:erasure.requested` (`…:<consumer>` on a consumer\'s own topic); deduplicate on it'),
  requestId: z.string().describe('Also the message key'),
  occurredAt: z.iso.datetime({ offset: true }),
  subjectRef: z.string().describe('Keyed hash of the subject, never an identifier'),
  deadline: z.iso.datetime({ offset: true }).describe('The legal deadline'),
  consumers: z.array(z.string()).describe('Every consumer the engine waits for'),
  consumer: z.string().optional().describe('Own topic and webhook only: the consumer addressed'),
  identifiers: z.record(z.string(), z.string()).optional().describe('Own topic and webhook only: the identifiers its catalog entry names, by name (email, userId, phone, custom.<key>)'),
});
