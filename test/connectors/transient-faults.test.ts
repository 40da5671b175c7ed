/**
 * A fault is transient until proven permanent (issue 16, point 10): an Elasticsearch node that restarts and
 * answers before it has recovered its index, or an index the catalog declares that is missing, is retried;
 * only a fault that outlasts the transient window, counted from the activity's first scheduling, becomes
 * permanent, and says how long it lasted. Faults permanent by nature (a mapping that refuses the field)
 * stay permanent at once. PostgreSQL and S3: ./transient-faults-stores.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { CancelledFailure } from '@temporalio/common';
import { elasticsearchConnector } from '../../src/systems/elasticsearch/connector';
import { completeShards } from '../../src/systems/elasticsearch/failures';
import type { ElasticsearchSystem } from '../../src/systems/elasticsearch';
import {
  DEFAULT_TRANSIENT_WINDOW_MS, TransientConnectorError, humanDuration, nonRetryable, pastTransientWindow, withTransientWindow, type Connector,
} from '../../src/systems/connector-kit';
import { startElasticsearch, type ElasticsearchServer } from '../../src/dev/elasticsearch';
import { freePort } from '../../src/dev/servers';
import { configSchema } from '../../src/config';
import { elasticsearch, esClientFor, warmUp } from './servers';
import { alice, assertNoPii, assertNonRetryable, assertRetryable, bob, failure, system, taskFor } from './helpers';
import { MINUTE, scheduledAgo, throughRestart } from './transient';

warmUp('es7', 'es8');

function entry(es: ElasticsearchServer, index: string): ElasticsearchSystem {
  return system({ id: 'search', kind: 'elasticsearch', node: es.url, index, match: { field: 'user_id', identifier: 'userId' }, pollIntervalMs: 100 });
}

async function seed(es: Client, index: string, userIds: string[], n: number): Promise<void> {
  const operations = userIds.flatMap((u) => Array.from({ length: n }, (_, i) => [{ index: { _index: index, _id: `${u}-${i}` } }, { user_id: u, body: `note ${i}` }]).flat());
  assert.equal((await es.bulk({ operations, refresh: true })).errors, false);
}

describe('the transient window', () => {
  const transient = () => new TransientConnectorError('db', 'cannot reach PostgreSQL (ECONNREFUSED)');

  it('outside an activity there is no window: a transient fault stays transient', () => {
    const err = transient();
    assert.equal(pastTransientWindow(err, MINUTE), err);
  });

  it('inside the window a transient fault stays transient; past it, it is permanent and says how long it lasted', async () => {
    const inside = await scheduledAgo(14 * MINUTE, async () => pastTransientWindow(transient()));
    assertRetryable(inside as Error, 'db');
    const past = (await scheduledAgo(20 * MINUTE, async () => pastTransientWindow(transient()))) as Error;
    assertNonRetryable(past, 'db', 'cannot reach PostgreSQL (ECONNREFUSED); still failing 20 minutes after this step was first scheduled (transient window 15 minutes)');
    const shorter = (await scheduledAgo(2 * MINUTE, async () => pastTransientWindow(new TransientConnectorError('crm', 'webhook answered HTTP 503; will retry'), MINUTE))) as Error;
    assertNonRetryable(shorter, 'crm', /^system "crm": webhook answered HTTP 503; still failing 2 minutes after .*\(transient window 60 seconds\)$/);
  });

  it('permanent failures and cancellations pass through unchanged, however old the activity', async () => {
    const permanent = nonRetryable('db', 'table does not exist (SQLSTATE 42P01)');
    const cancelled = new CancelledFailure('CANCELLED');
    const plain = new TypeError('a bug');
    for (const err of [permanent, cancelled, plain]) assert.equal(await scheduledAgo(24 * 60 * MINUTE, async () => pastTransientWindow(err)), err);
  });

  it('the wrapped connector applies the window to every operation, and leaves close alone', async () => {
    let closed = 0;
    const fake: Connector = {
      erase: async () => Promise.reject(transient()),
      verify: async () => ({ remaining: 0 }),
      close: async () => void closed++,
    };
    const conn = withTransientWindow(fake, 15 * MINUTE);
    const task = { requestId: 'r', subject: alice, subjectRef: 'subj_r', system: { id: 'db' } } as never;
    assertRetryable(await failure(conn.erase(task)), 'db');
    assertRetryable(await failure(scheduledAgo(MINUTE, () => conn.erase(task))), 'db');
    assertNonRetryable(await failure(scheduledAgo(16 * MINUTE, () => conn.erase(task))), 'db', 'still failing 16 minutes');
    assert.deepEqual(await scheduledAgo(16 * MINUTE, () => conn.verify(task)), { remaining: 0 });
    await conn.close!();
    assert.equal(closed, 1);
  });

  it('reads as an operator would say it', () => {
    assert.deepEqual([45_000, 20 * MINUTE, 125 * MINUTE, 180 * MINUTE].map(humanDuration), ['45 seconds', '20 minutes', '2 hours 5 minutes', '3 hours']);
    assert.equal(DEFAULT_TRANSIENT_WINDOW_MS, 15 * MINUTE);
  });

  it('ERASURE_TRANSIENT_WINDOW takes a bounded duration, 15 minutes by default', () => {
    const window = configSchema.shape.ERASURE_TRANSIENT_WINDOW;
    assert.equal(window.parse(undefined), 15 * MINUTE);
    assert.deepEqual(['90s', '15m', '2h'].map((v) => window.parse(v)), [90_000, 15 * MINUTE, 120 * MINUTE]);
    for (const bad of ['soon', '15', '30s', '25h', '-5m']) assert.equal(window.safeParse(bad).success, false, bad);
  });
});

for (const major of [7, 8] as const) {
  describe(`Elasticsearch ${major} faults (real node)`, () => {
    let server: ElasticsearchServer;
    let es: Client;

    before(async function () {
      server = await elasticsearch(major);
      es = esClientFor(server);
    });
    after(async () => {
      await es?.close();
    });

    it('a missing index the catalog declares is transient (404), inside the window too, and permanent past it', async () => {
      const index = `vanishing-${major}`;
      await es.indices.create({ index, mappings: { properties: { user_id: { type: 'keyword' }, body: { type: 'text' } } } });
      await seed(es, index, [alice.userId!, bob.userId!], 5);
      await es.indices.delete({ index });
      const sys = entry(server, index);
      const raw = elasticsearchConnector(sys);
      const conn = withTransientWindow(raw, 15 * MINUTE);
      try {
        // What the quick fault run met: a node answering 404 for an index it has not recovered yet.
        for (const op of [() => raw.erase(taskFor(sys, alice)), () => raw.verify(taskFor(sys, alice))]) {
          const err = await failure(op());
          assertRetryable(err, 'search');
          assert.match(err.message, new RegExp(`index "${index}" not found \\(HTTP 404, index_not_found_exception\\)`));
          assertNoPii(err.message, alice, bob);
        }
        assertRetryable(await failure(scheduledAgo(MINUTE, () => conn.erase(taskFor(sys, alice)))), 'search');
        const past = await failure(scheduledAgo(16 * MINUTE, () => conn.verify(taskFor(sys, alice))));
        assertNonRetryable(past, 'search', new RegExp(`index "${index}" not found .*; still failing 16 minutes after this step was first scheduled`));
        assertNoPii(past.message, alice, bob);
        // `catalog check` still says at once that the index is not there.
        assertNonRetryable(await failure(raw.check()), 'search', `index "${index}" does not exist`);
        // The index is back (restored, recovered): the same connector erases Alice's documents, and only hers.
        await es.indices.create({ index, mappings: { properties: { user_id: { type: 'keyword' }, body: { type: 'text' } } } });
        await seed(es, index, [alice.userId!, bob.userId!], 5);
        const erased = await scheduledAgo(MINUTE, () => conn.erase(taskFor(sys, alice)));
        assert.equal(erased.erased, 5);
        assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 0 });
        assert.equal((await es.count({ index, query: { term: { user_id: bob.userId! } } })).count, 5);
      } finally {
        await raw.close();
        await es.indices.delete({ index }, { ignore: [404] });
      }
    });

    it('a mapping that refuses the field stays permanent at once, inside the window', async () => {
      const index = `text-field-${major}`;
      await es.indices.create({ index, mappings: { properties: { user_id: { type: 'text' } } } });
      const sys = entry(server, index);
      const conn = withTransientWindow(elasticsearchConnector(sys), 15 * MINUTE);
      try {
        assertNonRetryable(await failure(scheduledAgo(MINUTE, () => conn.erase(taskFor(sys, alice)))), 'search', 'mapped as text');
      } finally {
        await conn.close();
        await es.indices.delete({ index });
      }
    });
  });
}

describe('Elasticsearch 7 stopped and started again (its own node)', function () {
  let dataDir: string;
  let node: ElasticsearchServer | undefined;

  before(async function () {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-transient-es-'));
    node = await startElasticsearch({ major: 7, dataDir, port: await freePort() });
  });
  after(async () => {
    await node?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('an answer some shards did not give is retryable: a verification never counts on a partial answer', async () => {
    const es = esClientFor(node!);
    const index = 'half-missing';
    await es.indices.create({ index, mappings: { properties: { user_id: { type: 'keyword' } } }, settings: { number_of_shards: 2, number_of_replicas: 0 } });
    await seed(es, index, [alice.userId!, bob.userId!], 20);
    const sys = entry(node!, index);
    const conn = elasticsearchConnector(sys);
    const count = () => es.count({ index, query: { term: { user_id: alice.userId! } } });
    let partials = 0;
    try {
      for (let round = 0; round < 3; round++) {
        // Shard 0 loses its only copy and recovers it from disk: for a moment the node answers without it.
        const [{ node: nodeName }] = (await es.cat.shards({ index, format: 'json' })) as Array<{ node: string }>;
        await es.cluster.reroute({ commands: [{ cancel: { index, shard: 0, node: nodeName, allow_primary: true } }] });
        const partial = await count();
        if (partial._shards.failed > 0) {
          partials++;
          assert.ok(partial.count < 20, 'the answer without shard 0 under-counts');
          assert.throws(() => completeShards('search', partial), (err: Error) => {
            assertRetryable(err, 'search');
            assert.match(err.message, /1 of 2 shards failed to answer \(no_shard_available_action_exception\): the answer would be incomplete/);
            return true;
          });
        }
        // Whenever it runs, verification counts every one of Alice's documents, or asks to be retried.
        const verified = await conn.verify(taskFor(sys, alice)).catch((err: Error) => err);
        if (verified instanceof Error) assertRetryable(verified, 'search');
        else assert.deepEqual(verified, { remaining: 20 });
        await es.cluster.health({ index, wait_for_status: 'green', timeout: '60s' });
      }
      assert.ok(partials > 0, 'the node answered at least once without shard 0');
      assert.equal((await count()).count, 20);
    } finally {
      await conn.close();
      await es.indices.delete({ index }, { ignore: [404] });
      await es.close();
    }
  });

  it('every answer while the node is down and recovering its index is retryable, and the erasure completes once it has', async () => {
    const es = esClientFor(node!);
    const index = 'recovering';
    // Several shards, so recovery takes a moment after the node answers.
    await es.indices.create({ index, mappings: { properties: { user_id: { type: 'keyword' }, body: { type: 'text' } } }, settings: { number_of_shards: 5, number_of_replicas: 0 } });
    await seed(es, index, [alice.userId!, bob.userId!], 20);
    await es.close();
    const sys = entry(node!, index);
    const conn = elasticsearchConnector(sys);
    const port = Number(new URL(node!.url).port);
    try {
      await node!.stop();
      const { errors } = await throughRestart(
        () => conn.erase(taskFor(sys, alice)),
        async () => {
          await new Promise((r) => setTimeout(r, 1_000));
          node = await startElasticsearch({ major: 7, dataDir, port });
        },
      );
      assert.ok(errors.length > 0, 'the connector was called while the node was down');
      const kinds = [...new Set(errors.map((e) => e.message.replace(/^system "search": /, '')))];
      process.stdout.write(`      faults seen through the restart: ${kinds.join(' | ')}\n`);
      for (const err of errors) {
        assertRetryable(err, 'search');
        assertNoPii(err.message, alice, bob);
      }
      assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 0 });
      const after = esClientFor(node!);
      assert.equal((await after.count({ index, query: { term: { user_id: bob.userId! } } })).count, 20, "Bob's documents untouched");
      await after.close();
    } finally {
      await conn.close();
    }
  });
});
