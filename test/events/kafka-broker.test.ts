/**
 * The real Kafka broker that `npm run setup` assembles, through the engine's client helpers: topics are
 * created once, a group sees a message again until it is committed, and the broker keeps everything across
 * a restart on the same data folder. Nothing is mocked; without the Kafka home these tests fail.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Message } from '@platformatic/kafka';
import { startKafka } from '../../src/dev/kafka';
import {
  createConsumer,
  createKafkaAdmin,
  createProducer,
  ensureTopics,
  subscribe,
  type EventConsumer,
  type EventStream,
} from '../../src/events/kafka-client';
import { sharedKafka, uniqueName } from '../harness/kafka';

type EventMessage = Message<string, string, string, string>;

/** The stream's next message, leaving the stream paused so that nothing after it is read meanwhile. */
function nextMessage(stream: EventStream, timeoutMs = 30_000): Promise<EventMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
    const onData = (m: EventMessage) => {
      stream.pause();
      done(undefined, m);
    };
    const onError = (err: Error) => done(err);
    function done(err?: Error, m?: EventMessage) {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('error', onError);
      if (err) reject(err);
      else resolve(m!);
    }
    stream.once('data', onData);
    stream.once('error', onError);
    stream.resume();
  });
}

/** Joins `groupId`, reads the first message it is given on `topic`, and hands back the member to close. */
async function readOne(bootstrap: string, groupId: string, topic: string): Promise<{ consumer: EventConsumer; message: EventMessage }> {
  const consumer = createConsumer({ bootstrap, groupId });
  try {
    const stream = await subscribe(consumer, [topic]);
    return { consumer, message: await nextMessage(stream) };
  } catch (err) {
    await consumer.close(true);
    throw err;
  }
}

/** Sends `value` under `key` and waits for the broker's acknowledgement. */
async function produce(bootstrap: string, topic: string, key: string, value: string): Promise<void> {
  const producer = createProducer(bootstrap);
  try {
    await producer.send({ messages: [{ topic, key, value }] });
  } finally {
    await producer.close();
  }
}

describe('Kafka broker (real, KRaft single node)', () => {
  let bootstrap: string;

  before(async function () {
    this.timeout(120_000);
    const kafka = await sharedKafka();
    bootstrap = kafka.bootstrap;
    process.stdout.write(`      (Kafka ${kafka.version} answered ${kafka.startMs} ms after its JVM started)\n`);
  });

  it('creates missing topics with their partition counts, and creates nothing the second time', async () => {
    const admin = createKafkaAdmin(bootstrap);
    const other = createKafkaAdmin(bootstrap);
    try {
      const events = uniqueName('erasure-events');
      const audit = uniqueName('erasure-audit');
      const specs = [{ name: events, partitions: 3 }, { name: audit, partitions: 1 }];
      // Two callers at once, as two engine processes starting together: both succeed, each topic made once.
      const [first, second] = await Promise.all([ensureTopics(admin, specs), ensureTopics(other, specs)]);
      assert.deepEqual([...first, ...second].sort(), [audit, events].sort());
      assert.deepEqual(await ensureTopics(admin, [{ name: events, partitions: 5 }, ...specs]), []);
      const metadata = await admin.metadata({ topics: [events, audit] });
      assert.equal(metadata.topics.get(events)?.partitionsCount, 3, 'an existing topic keeps its partitions');
      assert.equal(metadata.topics.get(audit)?.partitionsCount, 1);
    } finally {
      await Promise.all([admin.close(), other.close()]);
    }
  });

  it('delivers a keyed message to a group, and not again to the group once it is committed', async () => {
    const topic = uniqueName('committed');
    const groupId = uniqueName('group');
    const admin = createKafkaAdmin(bootstrap);
    await ensureTopics(admin, [{ name: topic, partitions: 1 }]).finally(() => admin.close());
    await produce(bootstrap, topic, 'ref-1', '{"event":"first"}');

    const a = await readOne(bootstrap, groupId, topic);
    try {
      assert.deepEqual([a.message.key, a.message.value, a.message.offset], ['ref-1', '{"event":"first"}', 0n]);
      await a.message.commit();
    } finally {
      await a.consumer.close(true);
    }

    // The next member of the group starts after the committed message: its first message is the second one.
    await produce(bootstrap, topic, 'ref-2', '{"event":"second"}');
    const b = await readOne(bootstrap, groupId, topic);
    try {
      assert.deepEqual([b.message.key, b.message.offset], ['ref-2', 1n]);
    } finally {
      await b.consumer.close(true);
    }
  });

  it('delivers an uncommitted message again to the next member after the consumer closes', async () => {
    const topic = uniqueName('uncommitted');
    const groupId = uniqueName('group');
    const admin = createKafkaAdmin(bootstrap);
    await ensureTopics(admin, [{ name: topic, partitions: 1 }]).finally(() => admin.close());
    await produce(bootstrap, topic, 'ref-1', '{"event":"only"}');

    const a = await readOne(bootstrap, groupId, topic);
    assert.deepEqual([a.message.key, a.message.offset], ['ref-1', 0n]);
    await a.consumer.close(true); // without committing: a crash before the message was handled

    const b = await readOne(bootstrap, groupId, topic);
    try {
      assert.deepEqual([b.message.key, b.message.value, b.message.offset], ['ref-1', '{"event":"only"}', 0n]);
    } finally {
      await b.consumer.close(true);
    }
  });

  it('keeps topics, messages and committed offsets across a restart on the same data folder', async function () {
    this.timeout(240_000);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-test-kafka-restart-'));
    const topic = 'erasure-restart';
    try {
      const first = await startKafka({ dataDir });
      try {
        const admin = createKafkaAdmin(first.bootstrap);
        await ensureTopics(admin, [{ name: topic, partitions: 2 }]).finally(() => admin.close());
        await produce(first.bootstrap, topic, 'ref-1', '{"event":"before restart"}');
        const a = await readOne(first.bootstrap, 'relay', topic);
        await a.message.commit();
        await a.consumer.close(true);
      } finally {
        await first.stop();
      }

      // Another client port: the broker advertises the new one, and its storage is not formatted again.
      const second = await startKafka({ dataDir });
      try {
        process.stdout.write(`      (restarted on the same data folder in ${second.startMs} ms)\n`);
        assert.notEqual(second.port, first.port);
        const admin = createKafkaAdmin(second.bootstrap);
        try {
          assert.deepEqual(await ensureTopics(admin, [{ name: topic, partitions: 2 }]), [], 'the topic survived');
          const metadata = await admin.metadata({ topics: [topic] });
          assert.equal(metadata.topics.get(topic)?.partitionsCount, 2);
        } finally {
          await admin.close();
        }
        const fresh = await readOne(second.bootstrap, 'auditor', topic);
        assert.deepEqual([fresh.message.key, fresh.message.value], ['ref-1', '{"event":"before restart"}'], 'the message survived');
        await fresh.consumer.close(true);
        // The relay's commit survived too: after a new message, that is the first one it is given.
        await produce(second.bootstrap, topic, 'ref-1', '{"event":"after restart"}');
        const relay = await readOne(second.bootstrap, 'relay', topic);
        assert.equal(relay.message.value, '{"event":"after restart"}');
        await relay.consumer.close(true);
      } finally {
        await second.stop();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('fails to start loudly, with the broker log, when its port is taken', async function () {
    this.timeout(120_000);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-test-kafka-taken-'));
    try {
      await assert.rejects(startKafka({ dataDir, port, timeoutMs: 60_000 }), (err: Error) => {
        assert.match(err.message, /^Kafka 4\.\d+\.\d+ (exited with|at 127\.0\.0\.1:\d+ did not answer)/);
        assert.match(err.message, /Address already in use|BindException/, 'the error carries the tail of the broker log');
        return true;
      });
    } finally {
      blocker.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
