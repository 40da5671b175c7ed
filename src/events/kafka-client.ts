/**
 * The engine's Kafka clients, built on `@platformatic/kafka` (see docs/dependencies.md): a few factories so
 * that every part of the engine talks to Kafka with the same settings. Keys, values and header entries are
 * strings (the engine's events are JSON); nothing here holds a client as a module singleton.
 */
import {
  Admin,
  Consumer,
  MultipleErrors,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
  ProduceAcks,
  stringDeserializers,
  stringSerializers,
  type MessagesStream,
} from '@platformatic/kafka';

/** One `host:port` or several: the brokers a client first asks for the cluster's metadata (`KAFKA_BROKERS`). */
export type Bootstrap = string | readonly string[];
const brokerList = (b: Bootstrap): string[] => (typeof b === 'string' ? [b] : [...b]);

/** A producer of string keys, values and headers. */
export type EventProducer = Producer<string, string, string, string>;
/** A consumer of string keys, values and headers. */
export type EventConsumer = Consumer<string, string, string, string>;
/** The stream of messages one subscription of an {@link EventConsumer} yields. */
export type EventStream = MessagesStream<string, string, string, string>;

/** A topic the engine needs, with its partition count. */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  /** Copies of each partition (default 1, what a single broker allows). */
  readonly replicas?: number;
}

/**
 * An admin client for topics and groups.
 * @example const admin = createKafkaAdmin('127.0.0.1:9092'); await ensureTopics(admin, [...]); await admin.close();
 */
export function createKafkaAdmin(bootstrap: Bootstrap, clientId = 'erasure-engine-admin'): Admin {
  return new Admin({ clientId, bootstrapBrokers: brokerList(bootstrap) });
}

/**
 * Creates the topics that do not exist yet and leaves the others as they are (their partition counts are
 * not changed). Safe to call on every start, and from two processes at once: a topic that another caller
 * created in between counts as there. Returns the names it created.
 * @example await ensureTopics(admin, [{ name: 'erasure.events', partitions: 3 }]);
 */
export async function ensureTopics(admin: Admin, topics: readonly TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const created: string[] = [];
  for (const t of topics.filter((spec) => !existing.has(spec.name))) {
    try {
      await admin.createTopics({ topics: [t.name], partitions: t.partitions, replicas: t.replicas ?? 1 });
      created.push(t.name);
    } catch (err) {
      // The client wraps the broker's answer (in a MultipleErrors); look for Kafka's error id inside it.
      if (!(err instanceof MultipleErrors) || !err.findBy('apiId', 'TOPIC_ALREADY_EXISTS')) throw err;
    }
  }
  return created;
}

/**
 * An idempotent producer: every write is acknowledged by all in-sync replicas (`acks=all`) and a retried
 * write is not stored twice. Sends fail after `retries` attempts (default 10, one second apart) rather than
 * wait forever for a broker that is down, so the caller can retry later from its own record of what is due.
 * @example const producer = createProducer('127.0.0.1:9092'); await producer.send({ messages: [{ topic, key, value }] });
 */
export function createProducer(bootstrap: Bootstrap, opts: { clientId?: string; retries?: number } = {}): EventProducer {
  return new Producer({
    clientId: opts.clientId ?? 'erasure-engine-producer',
    bootstrapBrokers: brokerList(bootstrap),
    idempotent: true,
    acks: ProduceAcks.ALL,
    // The client treats 0 or 1 retries of an idempotent producer as "retry forever".
    retries: Math.max(2, opts.retries ?? 10),
    serializers: stringSerializers,
  });
}

/**
 * A member of consumer group `groupId` that never commits by itself: a message counts as handled only once
 * the caller commits it (`await message.commit()`), so a consumer that stops before that leaves it to the
 * next member of the group.
 * @example const consumer = createConsumer({ bootstrap, groupId: 'erasure-relay' }); const stream = await subscribe(consumer, ['erasure.events']);
 */
export function createConsumer(opts: { bootstrap: Bootstrap; groupId: string; clientId?: string; sessionTimeoutMs?: number }): EventConsumer {
  return new Consumer({
    clientId: opts.clientId ?? `erasure-engine-${opts.groupId}`,
    bootstrapBrokers: brokerList(opts.bootstrap),
    groupId: opts.groupId,
    autocommit: false,
    sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: 1_000,
    deserializers: stringDeserializers,
  });
}

/**
 * Subscribes to `topics` from the group's committed offsets; a group with none starts at the earliest
 * message still kept, so nothing produced before the group first joined is missed. Offsets are committed
 * only by the caller.
 * @example for await (const message of await subscribe(consumer, ['erasure.events'])) { await handle(message); await message.commit(); }
 */
export function subscribe(consumer: EventConsumer, topics: string[]): Promise<EventStream> {
  return consumer.consume({
    topics,
    autocommit: false,
    mode: MessagesStreamModes.COMMITTED,
    fallbackMode: MessagesStreamFallbackModes.EARLIEST,
  });
}
