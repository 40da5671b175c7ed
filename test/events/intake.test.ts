/**
 * Kafka intake on the real broker and the whole engine: requests pushed to the intake topic become requests
 * and workflows exactly as `POST /erasures` makes them; what cannot be accepted is dead-lettered with its
 * reason and none of its content, without holding back what follows it; and an API process killed (SIGKILL)
 * in the middle of a run loses no request and takes none twice.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Consumer, ListOffsetTimestamps, MessagesStreamModes, type Message } from '@platformatic/kafka';
import { createKafkaAdmin, createProducer, ensureTopics, type EventProducer } from '../../src/events/kafka-client';
import { workflowIdFor } from '../../src/workflows/definitions';
import { sharedKafka, uniqueName } from '../harness/kafka';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

type RawMessage = Message<Buffer, Buffer, Buffer, Buffer>;

/** Every message of `topic` from the start, as bytes, until `count` have arrived. */
async function readTopic(bootstrap: string, topic: string, count: number, timeoutMs = 30_000): Promise<RawMessage[]> {
  const consumer = new Consumer({ clientId: 'intake-test-reader', bootstrapBrokers: [bootstrap], groupId: uniqueName('intake-reader'), autocommit: false });
  const got: RawMessage[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], autocommit: false, mode: MessagesStreamModes.EARLIEST });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} messages on ${topic} within ${timeoutMs} ms`)), timeoutMs);
      stream.on('data', (m: RawMessage) => {
        got.push(m);
        if (got.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      });
      stream.once('error', reject);
    });
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return got;
}

/** How many messages `topic` holds (the sum of its partitions' end offsets). */
async function messagesIn(bootstrap: string, topic: string, partitions: number): Promise<bigint> {
  const admin = createKafkaAdmin(bootstrap);
  try {
    const [listed] = await admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, i) => ({ partitionIndex: i, timestamp: ListOffsetTimestamps.LATEST })) }] });
    return listed.partitions.reduce((sum, p) => sum + p.offset, 0n);
  } finally {
    await admin.close();
  }
}

/** The offsets `groupId` has committed on `topic`, summed over partitions. */
async function committed(bootstrap: string, groupId: string, topic: string): Promise<bigint> {
  const admin = createKafkaAdmin(bootstrap);
  try {
    const [group] = await admin.listConsumerGroupOffsets({ groups: [groupId] });
    const t = group?.topics.find((x) => x.name === topic);
    return (t?.partitions ?? []).reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n);
  } finally {
    await admin.close();
  }
}

async function createTopics(bootstrap: string, names: Array<[string, number]>): Promise<void> {
  const admin = createKafkaAdmin(bootstrap);
  await ensureTopics(admin, names.map(([name, partitions]) => ({ name, partitions }))).finally(() => admin.close());
}

async function count(stack: Stack, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await stack.engine.pool.query<{ n: number }>(sql, params);
  return rows[0].n;
}

describe('Kafka intake (real broker, whole engine)', function () {
  let bootstrap: string;
  let stack: Stack;
  let producer: EventProducer;
  const topic = uniqueName('intake');
  const deadLetters = uniqueName('intake-dead-letter');
  const groupId = uniqueName('intake-group');
  /** Offsets of what this suite produced, in order (one partition: offset = position). */
  let next = 0;

  const produce = async (value: string, key = 'k'): Promise<number> => {
    await producer.send({ messages: [{ topic, key, value }] });
    return next++;
  };
  const read = () => http(stack, keys.read);

  before(async function () {
    this.timeout(180_000);
    bootstrap = (await sharedKafka()).bootstrap;
    // One partition, so that "after it" means after it in the same partition.
    await createTopics(bootstrap, [[topic, 1], [deadLetters, 1]]);
    stack = await startStack({
      env: { KAFKA_BROKERS: bootstrap, KAFKA_INTAKE_TOPIC: topic, KAFKA_INTAKE_GROUP: groupId, KAFKA_INTAKE_DEAD_LETTER_TOPIC: deadLetters },
    });
    producer = createProducer(bootstrap);
  });
  after(async () => {
    await producer?.close();
    await stack?.stop();
  });

  it('turns a message into a request and its workflow, and the same requestId again into nothing new', async () => {
    const body = { requestId: 'kafka-ok-1', subject: { email: 'Kafka.Alice@Example.com ' }, jurisdiction: 'GDPR', source: 'kafka' };
    await produce(JSON.stringify(body));
    const status = await eventually(async () => {
      const r = await read()('GET', '/erasures/kafka-ok-1');
      return r.status === 200 && r.json;
    }, 'the request submitted over Kafka');
    assert.equal(status.requestId, 'kafka-ok-1');

    await produce(JSON.stringify(body));
    await produce(JSON.stringify({ ...body, requestId: 'kafka-ok-2' }));
    await eventually(async () => (await committed(bootstrap, groupId, topic)) === BigInt(next), 'every message committed');
    assert.equal(await count(stack, 'SELECT count(*)::int AS n FROM requests WHERE request_id = $1', ['kafka-ok-1']), 1);
    assert.equal(await count(stack, `SELECT count(*)::int AS n FROM events WHERE request_id = $1 AND type = 'received'`, ['kafka-ok-1']), 1, 'received once');
    for (const id of ['kafka-ok-1', 'kafka-ok-2']) {
      const runs = await eventually(async () => (await stack.api.client.workflow.count(`WorkflowId = '${workflowIdFor(id)}'`)).count, `workflow of ${id}`);
      assert.equal(runs, 1, `one workflow run for ${id}`);
    }
    // The same normalisation as the API: the subject as the API would have recorded it.
    const viaApi = await http(stack, keys.intake)('POST', '/erasures', { ...body, subject: { email: 'kafka.alice@example.com' } });
    assert.equal(viaApi.status, 200, 'the API sees the Kafka request as the same request');
  });

  it('dead-letters each kind of bad message with its reason and none of its content, and takes the next one', async () => {
    const secrets = ['bad.json@example.com', 'schema.bob@example.com', 'carol.unknown@example.com', 'dave.key@example.com', 'norequest.erin@example.com', 'conflict.frank@example.com', 'keyed.by.mail@example.com', '+44 20 7946 0958', '447946'];
    await produce(JSON.stringify({ requestId: 'kafka-dl-base', subject: { email: 'base.gina@example.com' }, jurisdiction: 'GDPR' }));
    const bad = [
      { reason: 'not_json', offset: await produce('email=bad.json@example.com&delete=please', 'keyed.by.mail@example.com') },
      {
        reason: 'invalid',
        offset: await produce(
          JSON.stringify({ requestId: 'kafka-bad-schema', subject: { email: 'schema.bob@example.com', phone: '447946', custom: { 'dave.key@example.com': 'x' } }, jurisdiction: 'GDPR', 'carol.unknown@example.com': true }),
        ),
      },
      { reason: 'missing_request_id', offset: await produce(JSON.stringify({ subject: { email: 'norequest.erin@example.com', phone: '+44 20 7946 0958' }, jurisdiction: 'CCPA' })) },
      { reason: 'conflict', offset: await produce(JSON.stringify({ requestId: 'kafka-dl-base', subject: { email: 'conflict.frank@example.com' }, jurisdiction: 'GDPR' })) },
    ];
    const sent = new Map<number, Buffer>();
    // What the broker holds at each bad offset, to check the hash against.
    for (const m of await readTopic(bootstrap, topic, next)) sent.set(Number(m.offset), m.value);
    await produce(JSON.stringify({ requestId: 'kafka-after-bad', subject: { email: 'after.hana@example.com' }, jurisdiction: 'GDPR' }));
    await eventually(async () => (await read()('GET', '/erasures/kafka-after-bad')).status === 200, 'the good message after the bad ones');

    const letters = await readTopic(bootstrap, deadLetters, bad.length);
    const parsed = letters.map((m) => JSON.parse(m.value.toString('utf8')) as Record<string, unknown>);
    assert.deepEqual(
      parsed.map((l) => [l.reason, l.topic, l.partition, l.offset]),
      bad.map((b) => [b.reason, topic, 0, b.offset]),
    );
    for (const [i, l] of parsed.entries()) {
      assert.equal(l.sha256, createHash('sha256').update(sent.get(bad[i].offset)!).digest('hex'), `${l.reason}: the hash finds the source message`);
      assert.ok(!Number.isNaN(Date.parse(l.receivedAt as string)));
      assert.equal('value' in l || 'body' in l || 'subject' in l, false);
    }
    assert.match(parsed[1].detail as string, /subject\.phone: must have at least/);
    assert.match(parsed[1].detail as string, /\(root\): unknown field/);
    assert.equal(parsed[1].requestId, 'kafka-bad-schema');
    assert.match(parsed[2].detail as string, /requestId: required/);
    assert.equal(parsed[3].requestId, 'kafka-dl-base');

    const raw = Buffer.concat(letters.flatMap((m) => [m.key ?? Buffer.alloc(0), m.value, ...[...m.headers].flat()]));
    for (const s of [...secrets, 'example.com']) assert.equal(raw.includes(s), false, `a dead letter carries ${s}`);
    const logs = stack.logs.join('\n');
    for (const s of secrets) assert.equal(logs.includes(s), false, `the log carries ${s}`);
    assert.equal(await count(stack, 'SELECT count(*)::int AS n FROM requests WHERE request_id = $1', ['kafka-bad-schema']), 0);
    await eventually(async () => (await committed(bootstrap, groupId, topic)) === BigInt(next), 'every message committed');
  });

  it('retries a message while the ledger is down, without dead-lettering it, and takes it once the ledger is back', async () => {
    const before = await messagesIn(bootstrap, deadLetters, 1);
    // The requests table gone is the ledger failing on every write; the relay and the shredder fail too, and retry.
    await stack.engine.pool.query('ALTER TABLE requests RENAME TO requests_away');
    try {
      await produce(JSON.stringify({ requestId: 'kafka-ledger-down', subject: { email: 'ledger.ivan@example.com' }, jurisdiction: 'GDPR' }));
      await eventually(async () => stack.logs.some((l) => l.includes('intake message not settled') && l.includes(`"offset":${next - 1}`)), 'a failed attempt');
      await new Promise((r) => setTimeout(r, 1_500));
      assert.ok((await committed(bootstrap, groupId, topic)) < BigInt(next), 'nothing committed while the ledger is down');
    } finally {
      await stack.engine.pool.query('ALTER TABLE requests_away RENAME TO requests');
    }
    await eventually(async () => (await read()('GET', '/erasures/kafka-ledger-down')).status === 200, 'the request once the ledger is back', 60_000);
    await eventually(async () => (await committed(bootstrap, groupId, topic)) === BigInt(next), 'committed once settled', 60_000);
    assert.equal(await messagesIn(bootstrap, deadLetters, 1), before, 'nothing dead-lettered');
  });
});

describe('Kafka intake in an API process killed with SIGKILL mid-run (real broker, whole engine)', function () {
  const N = 200;
  const PARTITIONS = 3;
  let bootstrap: string;
  let stack: Stack;
  const topic = uniqueName('intake-crash');
  const deadLetters = uniqueName('intake-crash-dead-letter');
  const groupId = uniqueName('intake-crash-group');
  const children: ChildProcess[] = [];

  /** An API process on the stack's database and Temporal, reading the test's intake topic. */
  function startChild(extra: Record<string, string> = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'fixtures', 'intake-child.ts')], {
      cwd: path.resolve(__dirname, '..', '..'),
      env: {
        ...process.env,
        ...stack.env,
        ERASURE_TEST_DATA_DIR: stack.dataDir,
        KAFKA_INTAKE: 'true',
        KAFKA_INTAKE_TOPIC: topic,
        KAFKA_INTAKE_GROUP: groupId,
        KAFKA_INTAKE_DEAD_LETTER_TOPIC: deadLetters,
        LOG_LEVEL: 'warn',
        ...extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal, output }));
    });
  }

  /** Starts a process that kills itself at its `at`-th request write; resolves once it is dead. */
  async function killedChild(at: number, when: 'before-write' | 'after-write'): Promise<void> {
    const exit = await Promise.race([
      startChild({ INTAKE_TEST_KILL_AT: String(at), INTAKE_TEST_KILL_WHEN: when }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no process killed itself ${when} write ${at} within 150 s`)), 150_000)),
    ]);
    assert.equal(exit.signal, 'SIGKILL', `the process should have been killed ${when} its write ${at}; it exited ${exit.code}:\n${exit.output}`);
  }

  const ledgerRows = () => count(stack, 'SELECT count(*)::int AS n FROM requests WHERE request_id LIKE $1', ['crash-%']);

  before(async function () {
    this.timeout(180_000);
    bootstrap = (await sharedKafka()).bootstrap;
    await createTopics(bootstrap, [[topic, PARTITIONS], [deadLetters, 1]]);
    // The stack runs the worker (and an API that does not read the intake); the children do the intake.
    stack = await startStack({ env: { KAFKA_BROKERS: bootstrap, KAFKA_INTAKE: 'false', KAFKA_INTAKE_TOPIC: topic, KAFKA_INTAKE_GROUP: groupId, KAFKA_INTAKE_DEAD_LETTER_TOPIC: deadLetters } });
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await stack?.stop();
  });

  it('the next process takes up where the killed one stopped: every request once, one workflow each, nothing dead-lettered', async function () {
    this.timeout(300_000);
    const ids = Array.from({ length: N }, (_, i) => `crash-${String(i).padStart(3, '0')}`);
    const producer = createProducer(bootstrap);
    try {
      await producer.send({
        messages: ids.map((requestId, i) => ({ topic, key: requestId, value: JSON.stringify({ requestId, subject: { email: `crash.${i}@example.com` }, jurisdiction: 'GDPR', source: 'kafka' }) })),
      });
    } finally {
      await producer.close();
    }

    // Killed right after a request's ledger write, before its offset was committed: the next process is
    // handed that message again and must take it as the request it already is.
    await killedChild(50, 'after-write');
    const afterFirst = [await ledgerRows(), await committed(bootstrap, groupId, topic)] as const;
    assert.deepEqual(afterFirst, [50, 49n], 'killed between the 50th write and its commit');
    // Killed right before a write: that message was not committed either, so it is not lost.
    await killedChild(50, 'before-write');
    const afterSecond = [await ledgerRows(), await committed(bootstrap, groupId, topic)] as const;
    assert.ok(afterSecond[0] < N, 'the second process was killed before the end');
    process.stdout.write(`      (ledger and committed offsets after the first kill: ${afterFirst.join(', ')}; after the second: ${afterSecond.join(', ')})\n`);

    void startChild();
    await eventually(async () => (await committed(bootstrap, groupId, topic)) === BigInt(N), `all ${N} offsets committed`, 180_000);
    // Everything committed: whatever is not in the ledger by now was lost.
    await eventually(async () => (await ledgerRows()) === N, `all ${N} requests in the ledger`, 10_000);

    const { rows } = await stack.engine.pool.query<{ request_id: string }>(`SELECT request_id FROM requests WHERE request_id LIKE 'crash-%' ORDER BY request_id`);
    assert.deepEqual(rows.map((r) => r.request_id), ids);
    assert.equal(await count(stack, `SELECT count(*)::int AS n FROM events WHERE request_id LIKE 'crash-%' AND type = 'received'`), N, 'each received once');
    // The stack's Temporal is its own: every workflow it knows is one of these requests'.
    const runs = await eventually(async () => {
      const n = (await stack.api.client.workflow.count()).count;
      return n >= N && n;
    }, 'every workflow in visibility', 60_000);
    assert.equal(runs, N, 'one workflow run per request');
    // The ledger notes a start after Temporal answered it; a killed process's claims are taken up once their lease ends.
    await eventually(
      async () => (await count(stack, `SELECT count(*)::int AS n FROM requests WHERE request_id LIKE 'crash-%' AND workflow_started_at IS NULL`)) === 0,
      'every request marked started in the ledger',
      90_000,
    );
    assert.equal(await messagesIn(bootstrap, deadLetters, 1), 0n, 'nothing dead-lettered');
  });
});
