/**
 * The AsyncAPI 3 document of the engine's Kafka topics, served at `GET /asyncapi.json` beside
 * /openapi.json. The lifecycle messages' schemas are the ones the engine builds its messages from
 * (./lifecycle.ts); the others are written here from the topics' contracts. Channel addresses are the
 * defaults; each is configurable (`KAFKA_*_TOPIC`), and a deployment that renames one passes its names.
 */
import { z } from 'zod';
import { erasureRequestSchema } from '../api/schemas';
import { consumerOutcomes } from '../domain';
import pkg from '../../package.json';
import { DEFAULT_EVENTS_TOPIC, lifecycleSchemas } from './lifecycle';

/** The topic names the document uses (the configuration's, or the defaults). */
export interface AsyncApiTopics {
  events: string;
  completions: string;
  completionsDeadLetter: string;
  intake: string;
  intakeDeadLetter: string;
}

export const defaultTopics: AsyncApiTopics = {
  events: DEFAULT_EVENTS_TOPIC,
  completions: 'erasure.consumer-completions',
  completionsDeadLetter: 'erasure.consumer-completions.dead-letter',
  intake: 'erasure.intake',
  intakeDeadLetter: 'erasure.intake.dead-letter',
};

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12', unrepresentable: 'any' });
const iso = z.iso.datetime({ offset: true });

const requestedSchema = z.object({
  type: z.literal('erasure.requested'),
  eventId: z.string().describe('Stable id; deduplicate on it'),
  requestId: z.string(),
  occurredAt: iso,
  subjectRef: z.string().describe('Keyed hash of the subject, never an identifier'),
  deadline: iso.describe('By when every consumer must have finished with the data'),
  consumers: z.array(z.string()).describe('Catalog ids of the consumers that must answer on the completions topic'),
});

const completionSchema = z.object({
  requestId: z.string(),
  consumer: z.string().describe('The consumer\'s catalog id'),
  status: z.enum(consumerOutcomes),
  note: z.string().max(2000).optional().describe('Free text without identifiers'),
});

const completionDeadLetterSchema = z.object({
  reason: z.string().describe('Why the answer was not applied (unknown request, unknown consumer, malformed: …)'),
  requestId: z.string().optional(),
  consumer: z.string().optional(),
  topic: z.string(),
  partition: z.number().int(),
  offset: z.string(),
  failedAt: iso,
});

const intakeDeadLetterSchema = z.object({
  reason: z.enum(['not_json', 'invalid', 'missing_request_id', 'conflict']),
  detail: z.string().optional().describe('Which fields failed and why, never their values'),
  requestId: z.string().optional(),
  topic: z.string(),
  partition: z.number().int(),
  offset: z.number().int(),
  receivedAt: iso,
  sha256: z.string().describe('SHA-256 of the source message\'s bytes (the message itself is never copied)'),
});

const messageName = (type: string) => type.replace(/^erasure\./, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''));

/**
 * The document.
 * @example res.json(asyncApiDocument());
 */
export function asyncApiDocument(topics: AsyncApiTopics = defaultTopics): Record<string, unknown> {
  const eventMessages: Record<string, z.ZodType> = { 'erasure.requested': requestedSchema, ...lifecycleSchemas };
  const messages: Record<string, unknown> = {};
  const keyedByRequest = { kafka: { key: { type: 'string', description: 'The request id: a request\'s messages share a partition, in order' }, bindingVersion: '0.5.0' } };
  for (const [type, schema] of Object.entries(eventMessages)) {
    messages[messageName(type)] = { name: type, title: type, contentType: 'application/json', payload: json(schema), bindings: keyedByRequest };
  }
  messages.consumerCompletion = { name: 'consumer-completion', contentType: 'application/json', payload: json(completionSchema) };
  messages.consumerCompletionDeadLetter = { name: 'consumer-completion-dead-letter', contentType: 'application/json', payload: json(completionDeadLetterSchema) };
  messages.intakeRequest = { name: 'intake-request', contentType: 'application/json', payload: json(erasureRequestSchema.required({ requestId: true })) };
  messages.intakeDeadLetter = { name: 'intake-dead-letter', contentType: 'application/json', payload: json(intakeDeadLetterSchema) };

  const refs = (names: string[]) => Object.fromEntries(names.map((n) => [n, { $ref: `#/components/messages/${n}` }]));
  const eventNames = Object.keys(eventMessages).map(messageName);
  const channel = (address: string, description: string, names: string[]) => ({ address, description, messages: refs(names) });
  const op = (action: 'send' | 'receive', ch: string, names: string[], summary: string) => ({
    action,
    channel: { $ref: `#/channels/${ch}` },
    messages: names.map((n) => ({ $ref: `#/channels/${ch}/messages/${n}` })),
    summary,
  });

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Erasure engine events',
      version: pkg.version,
      description:
        'Kafka topics of the erasure engine. Delivery is at least once: deduplicate on `eventId`. Shared topics never carry identifiers, only `subjectRef`. Addresses are the defaults (KAFKA_EVENTS_TOPIC, KAFKA_COMPLETIONS_TOPIC, KAFKA_INTAKE_TOPIC and their dead-letter variables).',
    },
    defaultContentType: 'application/json',
    channels: {
      events: channel(topics.events, 'Every erasure\'s lifecycle, keyed by request id, in the order the engine recorded it', eventNames),
      consumerCompletions: channel(topics.completions, 'Consumers answer here once they have finished with a request\'s data', ['consumerCompletion']),
      consumerCompletionsDeadLetter: channel(topics.completionsDeadLetter, 'Answers the engine could not apply, with the reason', ['consumerCompletionDeadLetter']),
      intake: channel(topics.intake, 'Erasure requests pushed by other systems: the body of POST /erasures, requestId required', ['intakeRequest']),
      intakeDeadLetter: channel(topics.intakeDeadLetter, 'Intake messages that could not be accepted: the reason and where the message is, never its content', ['intakeDeadLetter']),
    },
    operations: {
      publishEvents: op('send', 'events', eventNames, 'The engine publishes each request\'s events'),
      receiveCompletions: op('receive', 'consumerCompletions', ['consumerCompletion'], 'The engine turns each answer into a consumerCompleted action (a repeat changes nothing)'),
      publishCompletionDeadLetters: op('send', 'consumerCompletionsDeadLetter', ['consumerCompletionDeadLetter'], 'Answers that name an unknown request or consumer, or are malformed'),
      receiveIntake: op('receive', 'intake', ['intakeRequest'], 'Requests taken in with the validation and idempotency of POST /erasures'),
      publishIntakeDeadLetters: op('send', 'intakeDeadLetter', ['intakeDeadLetter'], 'Intake messages that cannot be accepted'),
    },
    components: { messages },
  };
}
