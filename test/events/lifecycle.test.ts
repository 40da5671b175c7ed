/**
 * Issue 17, point 3, on the real stack and a real broker: an erasure's lifecycle reaches the events topic
 * in the order it happened, `erasure.completed` names the certificate the API serves (and its chain hash),
 * a cancelled request says so, and no message carries an identifier of the subject.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import pg from 'pg';
import { createAttestor } from '../../src/attestation';
import { certificateHash } from '../../src/certificate/sign';
import type { ErasureCertificate } from '../../src/certificate/schema';
import { defaultPolicies } from '../../src/domain';
import { createConsumer, subscribe, type EventConsumer } from '../../src/events/kafka-client';
import { lifecycleSchemas, type LifecycleEventType } from '../../src/events/lifecycle';
import { submitErasure } from '../../src/intake/intake';
import { createActivityAudit } from '../../src/ledger/audit';
import { listEvents } from '../../src/ledger/events';
import { createRequestRepository } from '../../src/ledger/requests';
import { defaultConnectors } from '../../src/systems/registry';
import { sharedKafka, uniqueName } from '../harness/kafka';
import { useLedgerDatabase } from '../harness/ledger';
import { ordersCatalog } from '../harness/catalogs';
import { freshDatabase, sharedPostgres } from '../harness/postgres';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

/** Operator actions are checked with a key of this test's own. */
const attestor = createAttestor(createSecretKey(randomBytes(32)));

const alice = 'alice.lifecycle@example.org';
const carol = 'carol.cancels@example.org';
const catalog = ordersCatalog;

interface Seen {
  key: string | undefined;
  value: string;
  partition: number;
  offset: bigint;
}

/** Reads `topic` from its beginning into `seen` until stopped (a group of its own). */
async function record(bootstrap: string, topic: string): Promise<{ seen: Seen[]; consumer: EventConsumer }> {
  const consumer = createConsumer({ bootstrap, groupId: uniqueName('lifecycle-reader') });
  const stream = await subscribe(consumer, [topic]);
  const seen: Seen[] = [];
  stream.on('data', (m) => seen.push({ key: m.key, value: m.value ?? '', partition: m.partition, offset: m.offset }));
  return { seen, consumer };
}

const ofRequest = (seen: Seen[], requestId: string) => seen.filter((m) => m.key === requestId).map((m) => JSON.parse(m.value) as Record<string, unknown> & { type: string });

describe('the audit log queues lifecycle events with the change they report (real PostgreSQL)', () => {
  const ledger = useLedgerDatabase();
  const queued = async (pool: pg.Pool) =>
    (await pool.query<{ event_id: string; value: Record<string, unknown> }>('SELECT event_id, value FROM event_outbox ORDER BY id')).rows;

  async function withRequest() {
    const { pool } = await ledger.fresh();
    const requests = createRequestRepository(pool);
    const receivedAt = new Date();
    const deadline = new Date(receivedAt.getTime() + 30 * 86_400_000);
    await requests.insertQueued({
      requestId: 'req-a', workflowId: 'erasure-req-a', subjectRef: 'subj_a', jurisdiction: 'GDPR', bodyHash: 'h', receivedAt, deadline,
      pendingInput: { metadata: {}, data: '' }, receivedDetail: { subjectRef: 'subj_a', jurisdiction: 'GDPR', source: null },
    });
    return { pool, requests, audit: createActivityAudit({ pool, requests, attestor }), deadline: deadline.toISOString() };
  }

  it('records a retried erase once and a later round under its own id', async () => {
    const { pool, audit } = await withRequest();
    const erased = (execution: string) => ({ requestId: 'req-a', type: 'system.erased', detail: { system: 'orders-db', kind: 'postgres', found: 2, erased: 2, execution } });
    await audit.recordEvent(erased('run-1:7'));
    await audit.recordEvent(erased('run-1:7')); // the same activity, retried after it had recorded
    await audit.recordEvent(erased('run-1:12')); // a verify round that had to erase again
    assert.equal((await listEvents(pool, 'req-a')).filter((e) => e.type === 'system.erased').length, 2);
    const rows = await queued(pool);
    assert.deepEqual(rows.map((r) => r.event_id), ['req-a:erasure.system_erased:orders-db', 'req-a:erasure.system_erased:orders-db:2']);
    assert.deepEqual(rows.map((r) => r.value.round), [1, 2]);
    assert.equal(rows[0].value.subjectRef, 'subj_a');
  });

  it('names overdue by its deadline and maps phases downstream does not see to nothing', async () => {
    const { pool, audit, requests, deadline } = await withRequest();
    await audit.recordEvent({ requestId: 'req-a', type: 'phase.erasing' });
    await audit.recordEvent({ requestId: 'req-a', type: 'escalated.overdue', detail: { systems: ['orders-db'] } });
    await audit.recordEvent({ requestId: 'req-a', type: 'escalated.needs_attention', detail: { systems: ['orders-db'] } });
    await audit.recordEvent({ requestId: 'req-a', type: 'phase.cancelled' });
    assert.deepEqual((await queued(pool)).map((r) => r.event_id), [
      `req-a:erasure.overdue:${deadline}`,
      'req-a:erasure.needs_attention:orders-db',
      'req-a:erasure.cancelled',
    ]);
    assert.equal((await requests.find('req-a'))?.status, 'cancelled');
  });

  it('keeps the trail and the row unchanged when the event cannot be queued (one transaction)', async () => {
    const { pool, audit, requests } = await withRequest();
    await pool.query('ALTER TABLE event_outbox RENAME TO event_outbox_away');
    try {
      await assert.rejects(audit.recordEvent({ requestId: 'req-a', type: 'phase.cancelled' }));
    } finally {
      await pool.query('ALTER TABLE event_outbox_away RENAME TO event_outbox');
    }
    assert.equal((await requests.find('req-a'))?.status, 'queued');
    assert.deepEqual((await listEvents(pool, 'req-a')).map((e) => e.type), ['received']);
  });
});

describe('lifecycle events on Kafka (dev server, real worker, PostgreSQL, Kafka broker)', function () {
  let stack: Stack;
  let shop: pg.Pool;
  let reader: { seen: Seen[]; consumer: EventConsumer };
  const topic = uniqueName('erasure.events');

  before(async () => {
    const kafka = await sharedKafka();
    const server = await sharedPostgres();
    const url = server.urlFor(await freshDatabase(server, 'orders'));
    shop = new pg.Pool({ connectionString: url, max: 2 });
    await shop.query('CREATE TABLE orders (id serial PRIMARY KEY, email text NOT NULL, item text NOT NULL)');
    await shop.query(`INSERT INTO orders (email, item) SELECT $1, 'item ' || i FROM generate_series(1, 3) i`, [alice]);
    stack = await startStack({ catalog, connectors: defaultConnectors, env: { ORDERS_DATABASE_URL: url, KAFKA_BROKERS: kafka.bootstrap, KAFKA_EVENTS_TOPIC: topic } });
    // The relay creates the topic at start; the reader joins once it exists.
    reader = await eventually(async () => record(kafka.bootstrap, topic), 'the events topic', 60_000);
  });
  after(async () => {
    if (reader) await new Promise<void>((resolve) => reader.consumer.close(true, () => resolve()));
    await stack?.stop();
    await shop?.end();
  });

  it('publishes accepted, system_erased and completed in order, completed naming the certificate the API serves', async () => {
    const admin = http(stack, keys.all);
    const res = await admin('POST', '/erasures', { subject: { email: alice }, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    const id = res.json.requestId as string;
    const events = await eventually(async () => {
      const mine = ofRequest(reader.seen, id);
      return mine.some((e) => e.type === 'erasure.completed') && mine;
    }, 'erasure.completed on the topic', 90_000);

    const lifecycle = events.filter((e) => e.type in lifecycleSchemas);
    assert.deepEqual(lifecycle.map((e) => e.type), ['erasure.accepted', 'erasure.system_erased', 'erasure.completed']);
    for (const e of lifecycle) lifecycleSchemas[e.type as LifecycleEventType].parse(e);
    const [accepted, erased, completed] = lifecycle;
    assert.equal(accepted.eventId, `${id}:erasure.accepted`);
    assert.equal(accepted.jurisdiction, 'GDPR');
    assert.ok(typeof accepted.subjectRef === 'string' && accepted.subjectRef.length > 0);
    assert.deepEqual({ systemId: erased.systemId, kind: erased.kind, found: erased.found, erased: erased.erased, round: erased.round }, { systemId: 'orders-db', kind: 'postgres', found: 3, erased: 3, round: 1 });
    assert.equal(erased.eventId, `${id}:erasure.system_erased:orders-db`);
    // One request's events share a partition, so a consumer reads them in this order.
    assert.equal(new Set(reader.seen.filter((m) => m.key === id).map((m) => m.partition)).size, 1);

    const cert = await admin('GET', `/erasures/${id}/certificate`);
    assert.equal(cert.status, 200, cert.text);
    const certificate = cert.json as ErasureCertificate;
    assert.equal(completed.certificateId, certificate.certificateId);
    assert.equal(completed.certificateHash, await certificateHash(certificate));
    assert.equal(completed.sequence, certificate.sequence);
    // Published means delivered and deleted: nothing of it stays in the outbox.
    assert.equal(Number((await stack.engine.pool.query('SELECT count(*) AS n FROM event_outbox WHERE message_key = $1', [id])).rows[0].n), 0);
  });

  it('publishes erasure.cancelled for a request withdrawn in its grace period', async () => {
    // The API's policies have no grace period; the intake with one gives the workflow a window to cancel in.
    const withGrace = { GDPR: { ...defaultPolicies.GDPR, graceDays: 7 }, CCPA: defaultPolicies.CCPA };
    const { record: req } = await submitErasure(
      {
        requests: createRequestRepository(stack.engine.pool),
        client: stack.api.client,
        taskQueue: stack.env.TASK_QUEUE!,
        subjectSecret: stack.engine.config.SUBJECT_HASH_SECRET,
        catalog: () => stack.engine.catalog,
        policies: withGrace,
        logger: stack.engine.logger,
        codec: stack.engine.dataConverter.payloadCodecs?.[0],
      },
      { subject: { email: carol }, jurisdiction: 'GDPR' },
    );
    const op = http(stack, keys.all);
    await eventually(async () => (await op('GET', `/erasures/${req.requestId}`)).json?.status === 'grace_period', 'the grace period', 60_000);
    const cancelled = await op('POST', `/erasures/${req.requestId}/cancel`, { reason: 'withdrawn by the subject' });
    assert.ok(cancelled.status < 300, cancelled.text);
    const events = await eventually(async () => {
      const mine = ofRequest(reader.seen, req.requestId);
      return mine.some((e) => e.type === 'erasure.cancelled') && mine;
    }, 'erasure.cancelled on the topic', 60_000);
    assert.deepEqual(events.filter((e) => e.type in lifecycleSchemas).map((e) => e.type), ['erasure.accepted', 'erasure.cancelled']);
    assert.equal(events.find((e) => e.type === 'erasure.cancelled')!.eventId, `${req.requestId}:erasure.cancelled`);
  });

  it('describes every message it published in the AsyncAPI document at /asyncapi.json', async () => {
    const res = await http(stack)('GET', '/asyncapi.json');
    assert.equal(res.status, 200, res.text);
    const doc = res.json as { asyncapi: string; channels: Record<string, { address: string }>; components: { messages: Record<string, { name: string; payload: { properties: Record<string, unknown>; required?: string[] } }> } };
    assert.equal(doc.asyncapi, '3.0.0');
    assert.equal(doc.channels.events.address, 'erasure.events');
    const byName = new Map(Object.values(doc.components.messages).map((m) => [m.name, m.payload]));
    for (const type of Object.keys(lifecycleSchemas)) assert.ok(byName.has(type), `${type} is not in the document`);
    for (const m of reader.seen) {
      const value = JSON.parse(m.value) as Record<string, unknown> & { type: string };
      const payload = byName.get(value.type);
      assert.ok(payload, `${value.type} is not in the document`);
      for (const field of Object.keys(value)) assert.ok(field in payload.properties, `${value.type}.${field} is not documented`);
      for (const field of payload.required ?? []) assert.ok(field in value, `${value.type} lacks ${field}`);
    }
  });

  it('never carries an identifier of a subject in any message', async () => {
    assert.ok(reader.seen.length >= 5, `only ${reader.seen.length} messages seen`);
    const raw = reader.seen.map((m) => `${m.key ?? ''}\n${m.value}`).join('\n').toLowerCase();
    for (const email of [alice, carol]) {
      const [local] = email.split('@');
      assert.ok(!raw.includes(email), `${email} appears on the topic`);
      assert.ok(!raw.includes(local), `the local part of ${email} appears on the topic`);
    }
  });
});
