/**
 * Issue 17, point 4: with the broker down for 60 s during a run of 200 requests, every event arrives once it
 * is back, none is lost, and erasures do not wait for the broker. A broker of its own (not the shared one),
 * stopped and started again on the same data folder and port; the whole engine on real servers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startKafka, type KafkaServer } from '../../src/dev/kafka';
import { createConsumer, subscribe } from '../../src/events/kafka-client';
import { lifecycleEventTypes } from '../../src/events/lifecycle';
import { defaultConnectors } from '../../src/systems/registry';
import { uniqueName } from '../harness/kafka';
import { ordersCatalog } from '../harness/catalogs';
import { freshDatabase, sharedPostgres } from '../harness/postgres';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const TOTAL = 200;
const BEFORE_OUTAGE = 20;
const OUTAGE_MS = 60_000;
const catalog = ordersCatalog;
const email = (i: number) => `subject-${i}@outage.example.org`;
/** What every completed request publishes, once each. */
const expectedTypes = [lifecycleEventTypes.accepted, lifecycleEventTypes.systemErased, lifecycleEventTypes.completed];

/** Runs `work` over `items`, `width` at a time. */
async function inParallel<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]);
    }
  }));
  return out;
}

describe('events survive a broker outage (200 requests, broker down 60 s)', function () {
  this.timeout(300_000);
  let kafka: KafkaServer;
  let stack: Stack;
  let shop: pg.Pool;
  const kafkaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-outage-kafka-'));
  const topic = uniqueName('erasure.events');

  before(async () => {
    kafka = await startKafka({ dataDir: kafkaDir });
    const server = await sharedPostgres();
    const url = server.urlFor(await freshDatabase(server, 'orders'));
    shop = new pg.Pool({ connectionString: url, max: 2 });
    await shop.query('CREATE TABLE orders (id serial PRIMARY KEY, email text NOT NULL)');
    await shop.query('INSERT INTO orders (email) SELECT unnest($1::text[])', [Array.from({ length: TOTAL }, (_, i) => email(i))]);
    stack = await startStack({
      catalog,
      connectors: defaultConnectors,
      env: { ORDERS_DATABASE_URL: url, KAFKA_BROKERS: kafka.bootstrap, KAFKA_EVENTS_TOPIC: topic, KAFKA_INTAKE: 'false' },
    });
  });
  after(async () => {
    await stack?.stop();
    await shop?.end();
    await kafka?.stop();
    fs.rmSync(kafkaDir, { recursive: true, force: true });
  });

  it('delivers every event after the broker is back, loses none, and completes erasures meanwhile', async () => {
    const admin = http(stack, keys.all);
    const pool = stack.engine.pool;
    const submit = async (i: number) => {
      const res = await admin('POST', '/erasures', { subject: { email: email(i) }, jurisdiction: 'GDPR' });
      assert.equal(res.status, 202, res.text);
      return res.json.requestId as string;
    };
    const certified = async (ids: string[]) => Number((await pool.query('SELECT count(*) AS n FROM certificates WHERE request_id = ANY($1)', [ids])).rows[0].n);
    const gauge = async (name: string) => {
      const text = (await http(stack)('GET', '/metrics')).text;
      const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    };
    const outboxed = async () => Number((await pool.query('SELECT count(*) AS n FROM event_outbox WHERE topic = $1', [topic])).rows[0].n);

    // Before the outage: the relay publishes as events commit.
    const early = await inParallel(Array.from({ length: BEFORE_OUTAGE }, (_, i) => i), 5, submit);
    await eventually(async () => (await certified(early)) === early.length && (await outboxed()) === 0, 'the first requests certified and published', 120_000);

    // The outage: requests keep coming and complete; their events wait in the outbox.
    await kafka.stop();
    const downAt = Date.now();
    const late = await inParallel(Array.from({ length: TOTAL - BEFORE_OUTAGE }, (_, i) => BEFORE_OUTAGE + i), 10, submit);
    const submittedMs = Date.now() - downAt;
    // The broker stays down at least 60 s, and longer if a slow machine has not certified them all by then.
    await eventually(async () => (await certified(late)) === late.length, 'every request of the outage certified while the broker is down', 150_000).catch(async (err: Error) => {
      const { rows } = await pool.query('SELECT status, count(*)::int AS n FROM requests WHERE request_id = ANY($1) GROUP BY status', [late]);
      throw new Error(`${err.message}; requests by status: ${JSON.stringify(rows)}`);
    });
    const certifiedMs = Date.now() - downAt;
    const waiting = await outboxed();
    assert.ok(waiting >= late.length * expectedTypes.length, `${waiting} events in the outbox while the broker is down`);
    const attempts = Number((await pool.query('SELECT max(attempts) AS n FROM event_outbox WHERE topic = $1', [topic])).rows[0].n ?? 0);
    assert.ok(attempts > 0, 'the relay kept trying during the outage');
    const backlogMetric = await eventually(async () => ((await gauge('erasure_event_outbox_backlog')) ?? 0) >= late.length * expectedTypes.length, 'the backlog metric', 30_000);
    assert.ok(backlogMetric);
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS + 50 - (Date.now() - downAt))));
    const downMs = Date.now() - downAt;

    kafka = await startKafka({ dataDir: kafkaDir, port: kafka.port });
    const upAt = Date.now();
    await eventually(async () => (await outboxed()) === 0, 'the outbox drained', 120_000);
    const drainedMs = Date.now() - upAt;
    await eventually(async () => (await gauge('erasure_event_outbox_backlog')) === 0, 'the backlog metric back at 0', 15_000);
    // Certificates of the outage's requests were all issued before the broker came back.
    const issuedDuring = Number((await pool.query('SELECT count(*) AS n FROM certificates WHERE request_id = ANY($1) AND issued_at < to_timestamp($2 / 1000.0)', [late, upAt])).rows[0].n);
    assert.equal(issuedDuring, late.length);

    // A downstream consumer reading the topic from the beginning.
    const ids = new Set([...early, ...late]);
    const consumer = createConsumer({ bootstrap: kafka.bootstrap, groupId: uniqueName('outage-reader') });
    const seen: Array<{ eventId: string; type: string; requestId: string }> = [];
    try {
      const stream = await subscribe(consumer, [topic]);
      stream.on('data', (m) => seen.push(JSON.parse(m.value ?? '{}')));
      const expected = ids.size * expectedTypes.length;
      await eventually(async () => new Set(seen.filter((e) => ids.has(e.requestId) && expectedTypes.includes(e.type as never)).map((e) => e.eventId)).size >= expected, `${expected} distinct events read`, 60_000);
      // Anything else in flight arrives within a moment; wait for it so duplicates are counted.
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
    }

    const ours = seen.filter((e) => ids.has(e.requestId) && expectedTypes.includes(e.type as never));
    const distinct = new Map(ours.map((e) => [e.eventId, e]));
    for (const type of expectedTypes) {
      const perRequest = new Map<string, number>();
      for (const e of distinct.values()) if (e.type === type) perRequest.set(e.requestId, (perRequest.get(e.requestId) ?? 0) + 1);
      assert.equal(perRequest.size, ids.size, `${type}: ${perRequest.size} of ${ids.size} requests`);
      assert.ok([...perRequest.values()].every((n) => n === 1), `${type}: a request has more than one distinct event`);
    }
    const published = stack.api.eventRelay!.published;
    const line = {
      requests: ids.size,
      expectedEvents: ids.size * expectedTypes.length,
      publishedByRelay: published,
      delivered: ours.length,
      distinct: distinct.size,
      duplicates: ours.length - distinct.size,
      relayFailedPasses: stack.api.eventRelay!.failures,
      brokerDownMs: downMs,
      outageSubmitMs: submittedMs,
      outageCertifiedMs: certifiedMs,
      drainAfterRestartMs: drainedMs,
    };
    process.stdout.write(`      event delivery: ${JSON.stringify(line)}\n`);
    assert.equal(distinct.size, ids.size * expectedTypes.length);
  });
});
