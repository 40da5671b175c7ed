/**
 * Issue 17, point 2, on real servers (Kafka broker, Temporal dev server, the engine's worker and API,
 * PostgreSQL): a request that reaches coordination is announced on the shared events topic without
 * identifiers; a consumer that asks for identifiers gets only those on its own topic; another is told by a
 * signed webhook; answers on the completions topic release the erasure, a duplicate changes nothing, and
 * answers that cannot be applied land in the dead-letter topic with their reason. HTTP and
 * `temporal workflow signal` keep working beside Kafka.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type { Message } from '@platformatic/kafka';
import { createActivities, logNotifier } from '../../src/activities';
import { catalogSchema } from '../../src/catalog/schema';
import type { ErasureCertificate } from '../../src/certificate';
import { toolPaths } from '../../src/dev/servers';
import { consumerAnnouncer, withConsumerAnnouncements } from '../../src/events/announcer';
import { consumerTopic, privateTopicConsumers, requestedEventSchema } from '../../src/events/consumers';
import { createConsumer, createKafkaAdmin, createProducer, ensureTopics, subscribe, type EventConsumer } from '../../src/events/kafka-client';
import { signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../src/systems/webhook/connector';
import { workflowIdFor } from '../../src/workflows/definitions';
import { sharedKafka, uniqueName } from '../harness/kafka';
import { eventually, http as api, keys, startStack, type Stack } from '../harness/stack';

const run = promisify(execFile);
type Received = Message<string, string, string, string>;

/** Every message of `topics` from the earliest, read by a group of its own, kept for the test to look through. */
async function collect(bootstrap: string, topics: string[]): Promise<{ messages: Received[]; close(): Promise<void> }> {
  const consumer: EventConsumer = createConsumer({ bootstrap, groupId: uniqueName('consumers-test-reader') });
  const messages: Received[] = [];
  const stream = await subscribe(consumer, topics);
  stream.on('data', (m: Received) => messages.push(m));
  return {
    messages,
    async close() {
      await (consumer.close(true) as unknown as Promise<void>);
    },
  };
}

/** A local receiver of consumer webhooks: answers 503 to a request's first call, 200 after. */
function webhookReceiver(): Promise<{ url: string; calls: Array<{ headers: http.IncomingHttpHeaders; body: string }>; close(): void }> {
  const calls: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  const seen = new Set<string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push({ headers: req.headers, body });
      const key = String(req.headers['idempotency-key']);
      res.statusCode = seen.has(key) ? 200 : 503;
      seen.add(key);
      res.end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`, calls, close: () => server.close() })),
  );
}

const secret = 'archive-webhook-secret-0123456789';
const subject = { email: 'Ada.Lovelace@Example.org', userId: 'user-4711-ada', phone: '+44 20 7946 0958' };
/** Anything of the subject that must not appear where identifiers are not asked for. */
const identifierTexts = ['ada.lovelace@example.org', 'Ada.Lovelace@Example.org', 'user-4711-ada', '+442079460958', '7946 0958', '79460958'];

describe('consumers over Kafka: announcements, completions, dead letters (real broker and stack)', function () {
  this.timeout(240_000);
  let stack: Stack;
  let bootstrap: string;
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
  let reader: Awaited<ReturnType<typeof collect>>;
  const topics = {
    events: uniqueName('erasure.events'),
    completions: uniqueName('erasure.consumer-completions'),
    deadLetter: uniqueName('erasure.consumer-completions.dead-letter'),
    categoriser: uniqueName('erasure.consumer.categoriser'),
  };
  let id: string;

  const admin = () => api(stack, keys.all);
  const status = async () => (await admin()('GET', `/erasures/${id}`)).json;
  const onTopic = (topic: string, key: string) => reader.messages.filter((m) => m.topic === topic && m.key === key);
  async function answer(value: unknown): Promise<void> {
    const producer = createProducer(bootstrap);
    try {
      await producer.send({ messages: [{ topic: topics.completions, key: 'test', value: typeof value === 'string' ? value : JSON.stringify(value) }] });
    } finally {
      await producer.close();
    }
  }
  const group = uniqueName('completions-group');
  /** The next offset the engine's completions group would read on the completions topic (its only partition). */
  async function committed(): Promise<bigint | undefined> {
    const kafkaAdmin = createKafkaAdmin(bootstrap);
    try {
      const [g] = await kafkaAdmin.listConsumerGroupOffsets({ groups: [group] });
      return g?.topics.find((t) => t.name === topics.completions)?.partitions.find((p) => p.partitionIndex === 0)?.committedOffset;
    } finally {
      await kafkaAdmin.close();
    }
  }
  const deadLetters = () => reader.messages.filter((m) => m.topic === topics.deadLetter).map((m) => ({ raw: m.value, json: JSON.parse(m.value) as Record<string, unknown> }));

  before(async () => {
    bootstrap = (await sharedKafka()).bootstrap;
    const kafkaAdmin = createKafkaAdmin(bootstrap);
    try {
      // Created before the readers subscribe; the engine finds them there and leaves them as they are.
      await ensureTopics(kafkaAdmin, Object.values(topics).map((name) => ({ name, partitions: 1 })));
    } finally {
      await kafkaAdmin.close();
    }
    receiver = await webhookReceiver();
    reader = await collect(bootstrap, Object.values(topics));
    const catalog = `
systems:
  - id: legacy-billing
    kind: manual
    owner: billing-team
consumers:
  - { id: analytics, critical: true, timeout: 3d }
  - { id: categoriser, timeout: 3d, identifiers: [email], topic: ${topics.categoriser} }
  - id: archive
    timeout: 3d
    identifiers: [userId]
    announce: { webhook: "${receiver.url}", secret: "\${ARCHIVE_WEBHOOK_SECRET}" }
`;
    stack = await startStack({
      catalog,
      env: {
        KAFKA_BROKERS: bootstrap,
        KAFKA_EVENTS_TOPIC: topics.events,
        KAFKA_COMPLETIONS_TOPIC: topics.completions,
        KAFKA_COMPLETIONS_GROUP: group,
        KAFKA_COMPLETIONS_DEAD_LETTER_TOPIC: topics.deadLetter,
        ARCHIVE_WEBHOOK_SECRET: secret,
      },
    });
  });
  after(async () => {
    await reader?.close().catch(() => undefined);
    await stack?.stop();
    receiver?.close();
  });

  it('announces erasure.requested on the shared topic, keyed by request id, with no identifier in its bytes', async () => {
    const res = await admin()('POST', '/erasures', { subject, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    id = res.json.requestId as string;
    const [message] = await eventually(async () => onTopic(topics.events, id).filter((m) => JSON.parse(m.value).type === 'erasure.requested').length > 0 && onTopic(topics.events, id).filter((m) => JSON.parse(m.value).type === 'erasure.requested'), 'erasure.requested on the events topic', 60_000);
    const event = JSON.parse(message.value) as Record<string, unknown>;
    requestedEventSchema.strict().parse(event);
    assert.equal(event.identifiers, undefined);
    assert.equal(event.eventId, `${id}:erasure.requested`);
    assert.equal(event.requestId, id);
    assert.deepEqual([...(event.consumers as string[])].sort(), ['analytics', 'archive', 'categoriser']);
    const ledger = await stack.engine.pool.query<{ subject_ref: string }>('SELECT subject_ref FROM requests WHERE request_id = $1', [id]);
    assert.equal(event.subjectRef, ledger.rows[0].subject_ref);
    assert.ok(!Number.isNaN(Date.parse(event.deadline as string)) && !Number.isNaN(Date.parse(event.occurredAt as string)));
    for (const text of identifierTexts) assert.ok(!message.value.includes(text), `the shared announcement holds "${text}"`);
  });

  it("gives the consumer that names identifiers only those, on its own topic", async () => {
    const [own] = await eventually(async () => onTopic(topics.categoriser, id).length > 0 && onTopic(topics.categoriser, id), "the categoriser's own message", 60_000);
    const value = JSON.parse(own.value);
    assert.equal(value.type, 'erasure.requested');
    assert.equal(value.eventId, `${id}:erasure.requested:categoriser`);
    assert.equal(value.consumer, 'categoriser');
    assert.deepEqual(value.identifiers, { email: 'ada.lovelace@example.org' }, 'the e-mail only, normalised');
    for (const text of identifierTexts.slice(2)) assert.ok(!own.value.includes(text), `the categoriser's message holds "${text}"`);
    assert.equal(onTopic(topics.categoriser, id).length, 1);
  });

  it('tells the webhook consumer by a signed POST with its identifiers only, retried after a 503 with the same idempotency key', async () => {
    const calls = await eventually(async () => {
      const mine = receiver.calls.filter((c) => JSON.parse(c.body).requestId === id);
      return mine.length >= 2 && mine;
    }, 'a retried webhook announcement', 60_000);
    for (const call of calls) {
      const timestamp = String(call.headers[TIMESTAMP_HEADER.toLowerCase()]);
      assert.equal(call.headers[SIGNATURE_HEADER.toLowerCase()], signWebhook(secret, timestamp, call.body), 'signed like the webhook connector signs');
      assert.notEqual(signWebhook('another-secret-0123456789', timestamp, call.body), call.headers[SIGNATURE_HEADER.toLowerCase()]);
      assert.equal(call.headers['idempotency-key'], `${id}:erasure.requested:archive`);
      const body = JSON.parse(call.body);
      assert.equal(body.type, 'erasure.requested');
      assert.equal(body.consumer, 'archive');
      assert.equal(body.workflowId, workflowIdFor(id));
      assert.deepEqual(body.identifiers, { userId: 'user-4711-ada' }, 'the userId only');
      assert.ok(!call.body.toLowerCase().includes('ada.lovelace') && !call.body.includes('7946'));
    }
  });

  it('gives consumers the shared announcement only when the announcement carries no subject, naming them in a warning', async () => {
    const notifier = withConsumerAnnouncements(
      logNotifier(stack.engine.logger),
      consumerAnnouncer({ db: stack.engine.pool, catalog: stack.engine.catalog, eventsTopic: topics.events, kafka: true, logger: stack.engine.logger }),
    );
    const activities = createActivities({ catalog: stack.engine.catalog, connectors: {}, notifier, logger: stack.engine.logger, audit: { recordEvent: async () => undefined }, certificates: { issue: async () => ({ certificateId: 'none' }) } });
    const direct = uniqueName('direct');
    // As a workflow started before the subject was passed (ANNOUNCE_WITH_SUBJECT) announces.
    const announcement = { requestId: direct, subjectRef: 'ref-direct', consumers: ['analytics', 'categoriser', 'archive'], deadline: new Date(Date.now() + 86_400_000).toISOString() };
    // The receiver answers 503 to a first call: the activity fails, to be retried; the second attempt goes through.
    await assert.rejects(activities.announceToConsumers(announcement), /archive.*HTTP 503; will retry/);
    await activities.announceToConsumers(announcement);
    await eventually(async () => onTopic(topics.events, direct).length > 0, 'the shared announcement', 60_000);
    const hook = receiver.calls.filter((c) => JSON.parse(c.body).requestId === direct);
    assert.equal(hook.length, 2);
    assert.equal(JSON.parse(hook[1].body).identifiers, undefined);
    const warned = stack.logs.filter((l) => l.includes(direct) && l.includes('the workflow passed none to the announcement'));
    assert.deepEqual(warned.map((l) => JSON.parse(l).consumer).sort(), ['archive', 'archive', 'categoriser', 'categoriser'], 'once per attempt');
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(onTopic(topics.categoriser, direct).length, 0, "nothing on the consumer's own topic without identifiers");
  });

  it('applies answers from the completions topic beside HTTP and temporal workflow signal, and completes', async () => {
    await answer({ requestId: id, consumer: 'categoriser', status: 'ok', note: 'categories dropped' });
    await answer({ requestId: id, consumer: 'archive', status: 'ok' });
    const op = api(stack, keys.operator);
    const viaHttp = await op('POST', `/erasures/${id}/consumers/analytics/complete`, { status: 'ok' });
    assert.equal(viaHttp.status, 202, viaHttp.text);
    await eventually(async () => (await status()).pendingConfirmations?.includes('legacy-billing'), 'the manual system awaiting confirmation', 60_000);
    const consumers = Object.fromEntries(((await status()).consumers as Array<{ id: string; status: string }>).map((c) => [c.id, c.status]));
    assert.deepEqual(consumers, { analytics: 'ok', archive: 'ok', categoriser: 'ok' });
  });

  it('changes nothing on a duplicate answer and dead-letters answers for an unknown request or consumer, or malformed ones', async () => {
    await answer({ requestId: id, consumer: 'categoriser', status: 'failed', note: 'a second answer' });
    await answer({ requestId: 'no-such-request', consumer: 'analytics', status: 'ok' });
    await answer({ requestId: id, consumer: 'nobody', status: 'ok' });
    await answer('{not json');
    await answer({ requestId: id, consumer: 'analytics', status: 'maybe', email: 'ada.lovelace@example.org' });
    const letters = await eventually(async () => deadLetters().length >= 4 && deadLetters(), 'four dead letters', 60_000);
    const byReason = letters.map((l) => l.json).map(({ reason, requestId, consumer }) => ({ reason, requestId, consumer }));
    assert.deepEqual(byReason.slice(0, 3), [
      { reason: 'unknown request', requestId: 'no-such-request', consumer: 'analytics' },
      { reason: 'unknown consumer', requestId: id, consumer: 'nobody' },
      { reason: 'malformed: not JSON', requestId: undefined, consumer: undefined },
    ]);
    assert.match(String(byReason[3].reason), /^malformed: .*status/);
    for (const l of letters) {
      assert.equal(l.json.topic, topics.completions);
      assert.equal(typeof l.json.partition, 'number');
      assert.match(String(l.json.offset), /^\d+$/);
      assert.ok(!l.raw.includes('ada.lovelace'), 'a dead letter never carries the message');
    }
    assert.equal(letters.length, 4, 'the duplicate is not a dead letter');
    await eventually(async () => stack.logs.some((l) => l.includes(id) && l.includes('already reported; nothing changed')), 'the duplicate handled');
    const categoriser = ((await status()).consumers as Array<{ id: string; status: string; note?: string }>).find((c) => c.id === 'categoriser')!;
    assert.equal(categoriser.status, 'ok', 'the first answer stands');
  });

  it('keeps retrying an answer while Temporal is down, without committing it, and applies it once Temporal is back', async () => {
    const res = await admin()('POST', '/erasures', { subject: { email: 'grace.hopper@example.org' }, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    const second = res.json.requestId as string;
    await eventually(async () => onTopic(topics.events, second).some((m) => JSON.parse(m.value).type === 'erasure.requested'), 'the second request announced', 60_000);
    await stack.stopTemporal();
    try {
      await answer({ requestId: second, consumer: 'categoriser', status: 'ok' });
      await eventually(async () => stack.logs.some((l) => l.includes(second) && l.includes('not applied yet; will retry')), 'a retried answer', 60_000);
      const sent = await eventually(async () => reader.messages.find((m) => m.topic === topics.completions && m.value.includes(second)), 'the answer on the topic');
      assert.equal(await committed(), sent.offset, 'not committed while it is retried');
    } finally {
      await stack.startTemporal();
    }
    await eventually(async () => {
      const s = (await admin()('GET', `/erasures/${second}`)).json;
      return s?.consumers?.find((c: { id: string; status: string }) => c.id === 'categoriser')?.status === 'ok';
    }, 'the answer applied after Temporal came back', 120_000);
    const sent = reader.messages.find((m) => m.topic === topics.completions && m.value.includes(second))!;
    await eventually(async () => (await committed()) === sent.offset + 1n, 'committed once applied');
    assert.equal(deadLetters().filter((l) => l.json.requestId === second).length, 0);
  });

  it('certifies who answered: each Kafka answer under kafka:<consumer>, the HTTP one under its key', async () => {
    await run(toolPaths().temporal, [
      'workflow', 'signal', '--address', stack.temporal.address, '--workflow-id', workflowIdFor(id), '--name', 'confirmDeletion',
      '--input', JSON.stringify({ system: 'legacy-billing', confirmedBy: 'billing-team' }),
    ], { timeout: 60_000 });
    await eventually(async () => (await status()).status === 'completed', 'completed', 60_000);
    const cert = (await admin()('GET', `/erasures/${id}/certificate`)).json as ErasureCertificate;
    const arrivals = Object.fromEntries(cert.consumers.map((c) => [c.consumerId, c.arrival]));
    assert.deepEqual(arrivals, {
      analytics: { via: 'api', actor: 'operator' },
      archive: { via: 'api', actor: 'kafka:archive' },
      categoriser: { via: 'api', actor: 'kafka:categoriser' },
    });
    assert.deepEqual(cert.systems.find((s) => s.systemId === 'legacy-billing')!.arrival, { via: 'temporal' });
  });
});

describe('consumer entries of the catalog', () => {
  const problems = (consumer: Record<string, unknown>) => {
    const parsed = catalogSchema.safeParse({ consumers: [consumer] });
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('defaults to Kafka with no identifiers, and names its own topic after the consumer', () => {
    const catalog = catalogSchema.parse({ consumers: [{ id: 'analytics' }, { id: 'categoriser', identifiers: ['email', 'custom.crmId'] }, { id: 'archive', identifiers: ['userId'], announce: { webhook: 'https://archive.example/hook', secret: 'x'.repeat(16) } }] });
    assert.equal(catalog.consumers[0].announce, 'kafka');
    assert.equal(catalog.consumers[0].identifiers, undefined);
    assert.deepEqual(privateTopicConsumers(catalog).map(consumerTopic), ['erasure.consumer.categoriser'], 'only a Kafka consumer with identifiers has a topic of its own');
  });

  it('refuses unknown identifier names, repeats, topics without identifiers or beside a webhook, and short secrets', () => {
    assert.match(problems({ id: 'a', identifiers: ['mail'] }).join('\n'), /identifiers\.0: must be email, userId, phone or custom\.<key>/);
    assert.match(problems({ id: 'a', identifiers: ['email', 'email'] }).join('\n'), /lists an identifier twice/);
    assert.match(problems({ id: 'a', identifiers: [] }).join('\n'), /at least one identifier/);
    assert.match(problems({ id: 'a', topic: 'mine' }).join('\n'), /topic: .*list them/);
    assert.match(problems({ id: 'a', identifiers: ['email'], topic: 'mine', announce: { webhook: 'https://a.example/x', secret: 'x'.repeat(16) } }).join('\n'), /topic: a consumer announced by webhook has no topic/);
    assert.match(problems({ id: 'a', announce: { webhook: 'https://a.example/x', secret: 'short' } }).join('\n'), /at least 16 characters/);
    assert.match(problems({ id: 'a', announce: 'smoke-signals' }).join('\n'), /announce: must be kafka or/);
    assert.match(problems({ id: 'a', identifiers: ['email'], topic: 'no spaces allowed' }).join('\n'), /topic: must be a Kafka topic name/);
  });
});
