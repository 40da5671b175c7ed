import assert from 'node:assert/strict';
import type { Client } from '@elastic/elasticsearch';
import { elasticsearchConnector, eraseMethodOf } from '../../src/systems/elasticsearch/connector';
import type { ElasticsearchSystem } from '../../src/systems/elasticsearch';
import { freePort } from '../../src/dev/servers';
import type { ElasticsearchServer } from '../../src/dev/elasticsearch';
import { elasticsearch, esClientFor, warmUp } from './servers';
import {
  alice, assertErasedAsToday, assertNoPii, assertNonRetryable, assertRetryable, bob, derivedTaskFor, failure, inActivity, oldStyleTaskFor, system, taskFor,
} from './helpers';

warmUp('es7', 'es8');

/** A subject whose keyword value has spaces and non-ASCII characters. */
const spaced = { userId: 'Zoë Ångström 日本 #7' };

const mappings = {
  properties: {
    user_id: { type: 'keyword' },
    tenant: { type: 'keyword' },
    email_text: { type: 'text' },
    body: { type: 'text' },
  },
} as const;

async function createIndex(es: Client, index: string): Promise<void> {
  await es.indices.create({ index, mappings, settings: { number_of_shards: 2, number_of_replicas: 0 } });
}

async function seed(es: Client, index: string, userId: string, n: number, extra: (i: number) => Record<string, unknown> = () => ({})): Promise<void> {
  const operations = Array.from({ length: n }, (_, i) => [
    { index: { _index: index, _id: `${userId}-${i}` } },
    { user_id: userId, tenant: 'acme', body: `Notiz ${i} für ${userId} — ✓ 日本`, email_text: `${userId}@example.com`, ...extra(i) },
  ]).flat();
  for (let i = 0; i < operations.length; i += 10_000) {
    const res = await es.bulk({ operations: operations.slice(i, i + 10_000), refresh: true });
    assert.equal(res.errors, false);
  }
}

/** Source, version and sequence number of every document of a user: any write would change them. */
async function snapshot(es: Client, index: string, userId: string): Promise<string[]> {
  const res = await es.search({ index, query: { term: { user_id: userId } }, size: 10_000, seq_no_primary_term: true, version: true, sort: ['_doc'] });
  return res.hits.hits.map((h) => JSON.stringify([h._id, h._version, h._seq_no, h._primary_term, h._source])).sort();
}

function entry(es: ElasticsearchServer, index: string, extra: Record<string, unknown> = {}): ElasticsearchSystem {
  return system({ id: 'search', kind: 'elasticsearch', node: es.url, index, match: { field: 'user_id', identifier: 'userId' }, pollIntervalMs: 100, ...extra });
}

/**
 * One suite, run on both nodes: 7.17 has the reindex module (delete-by-query), 8.19 lacks it (Maven Central
 * does not carry it for 8.x), so the connector erases there through its search + `_bulk` fallback.
 */
const versions = [
  { major: 7, title: 'real Elasticsearch 7.17 node with the reindex module', method: 'delete_by_query' },
  { major: 8, title: 'real Elasticsearch 8.19 node, whose reindex module Maven Central lacks', method: 'bulk' },
] as const;

for (const version of versions) {
  describe(`Elasticsearch connector (${version.title})`, function () {
    const deleteByQuery = version.method === 'delete_by_query';
    let server: ElasticsearchServer;
    let es: Client;

    before(async function () {
      server = await elasticsearch(version.major);
      es = esClientFor(server);
      await createIndex(es, 'documents');
      await seed(es, 'documents', alice.userId!, 40);
      await seed(es, 'documents', bob.userId!, 25);
    });
    after(async () => es?.close());

    it(`speaks to the ${version.major}.x server (product check passes), verifies by counting and checks the index`, async () => {
      const health = await es.cluster.health();
      assert.equal(health.status === 'green' || health.status === 'yellow', true);
      const sys = entry(server, 'documents');
      const conn = elasticsearchConnector(sys);
      assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 40 });
      assert.deepEqual(await conn.verify(taskFor(sys, { userId: 'u-nobody' })), { remaining: 0 });
      assert.match(await conn.check(), /index "documents" reachable \(65 documents\)/);
      await conn.close();
    });

    it('erases the subject and leaves another subject untouched, byte for byte', async () => {
      const bobBefore = await snapshot(es, 'documents', bob.userId!);
      const sys = entry(server, 'documents');
      const conn = elasticsearchConnector(sys);
      try {
        const { result, heartbeats } = await inActivity(() => conn.erase(taskFor(sys, alice)));
        assert.equal(result.found, 40);
        assert.equal(result.erased, 40);
        assert.equal(result.details?.rounds, 1);
        assert.equal(eraseMethodOf(result.details), version.method);
        assert.equal(result.details?.bulkFallback, deleteByQuery ? 0 : 1);
        const taskIds = heartbeats.map((h) => (h as { taskId?: string }).taskId);
        if (deleteByQuery) assert.ok(taskIds.some((id) => typeof id === 'string'), 'the task id is heartbeated');
        else assert.ok(taskIds.every((id) => id === undefined), 'no task without delete-by-query');
        assertNoPii(JSON.stringify(heartbeats), alice);
        assert.equal((await es.count({ index: 'documents', query: { term: { user_id: alice.userId! } } })).count, 0);
        assert.deepEqual(await snapshot(es, 'documents', bob.userId!), bobBefore);

        const again = await conn.erase(taskFor(sys, alice));
        assert.equal(again.found, 0);
        assert.equal(again.erased, 0);
        assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 0 });
        assert.deepEqual(await conn.verify(taskFor(sys, bob)), { remaining: 25 });
      } finally {
        await conn.close();
      }
    });

    it('ANDs the catalog\'s extra query with the match', async () => {
      await createIndex(es, 'tenants');
      await seed(es, 'tenants', 'u-multi', 10, (i) => ({ tenant: i < 6 ? 'acme' : 'globex' }));
      const sys = entry(server, 'tenants', { query: { term: { tenant: 'acme' } } });
      const conn = elasticsearchConnector(sys);
      const r = await conn.erase(taskFor(sys, { userId: 'u-multi' }));
      await conn.close();
      assert.equal(eraseMethodOf(r.details), version.method);
      assert.equal(r.found, 6);
      assert.equal(r.erased, 6);
      assert.equal((await es.count({ index: 'tenants', query: { term: { user_id: 'u-multi' } } })).count, 4);
    });

    it('keeps and reports a document whose match field also names another subject, and erases the subject\'s own (duplicates too)', async () => {
      // A low ignore_above, so that a value too long to be indexed can be tested (Elasticsearch skips it, marking _ignored).
      await es.indices.create({
        index: 'shared',
        mappings: { properties: { ...mappings.properties, user_id: { type: 'keyword', ignore_above: 32 } } },
        settings: { number_of_shards: 2, number_of_replicas: 0 },
      });
      await seed(es, 'shared', alice.userId!, 5);
      await seed(es, 'shared', bob.userId!, 3);
      const docs: Record<string, Record<string, unknown>> = {
        // Both subjects' data: erasing one must not delete the other's.
        'both': { user_id: [alice.userId!, bob.userId!], body: 'a shared thread' },
        'both-reversed': { user_id: [bob.userId!, 'u-carol', alice.userId!], body: 'three people' },
        // A value the index skipped (longer than ignore_above): it cannot be proven to be the subject's.
        'too-long': { user_id: [alice.userId!, 'x'.repeat(40)], body: 'an unindexed second value' },
        // The same value twice is the subject's alone.
        'twice': { user_id: [alice.userId!, alice.userId!], body: 'duplicated' },
        'once-in-array': { user_id: [alice.userId!], body: 'an array of one' },
      };
      const ops = Object.entries(docs).flatMap(([id, doc]) => [{ index: { _index: 'shared', _id: id } }, doc]);
      assert.equal((await es.bulk({ operations: ops, refresh: true })).errors, false);
      const keptIds = ['both', 'both-reversed', 'too-long'];
      const kept = async () => (await es.mget({ index: 'shared', ids: keptIds })).docs.map((d) => JSON.stringify(d)).sort();
      const keptBefore = await kept();
      const bobBefore = await snapshot(es, 'shared', bob.userId!);
      const sys = entry(server, 'shared', { scrollSize: 10 });
      const conn = elasticsearchConnector(sys);
      try {
        const r = await conn.erase(taskFor(sys, alice));
        assert.equal(eraseMethodOf(r.details), version.method);
        assert.deepEqual([r.found, r.erased, r.details?.shared], [7, 7, 3], 'own 5 + "twice" + "once-in-array" erased, 3 shared kept');
        assert.deepEqual(await kept(), keptBefore, 'shared documents untouched, byte for byte');
        assert.deepEqual(await snapshot(es, 'shared', bob.userId!), bobBefore);
        const left = await es.search({ index: 'shared', query: { term: { user_id: alice.userId! } }, size: 100 });
        assert.deepEqual(left.hits.hits.map((h) => h._id).sort(), [...keptIds].sort(), 'only the shared documents still name the subject');
        // Kept on purpose: not remaining.
        assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 0 });
        assert.deepEqual(await conn.verify(taskFor(sys, bob)), { remaining: 3 });

        const again = await conn.erase(taskFor(sys, alice));
        assert.deepEqual([again.found, again.erased, again.details?.shared], [0, 0, 3]);

        const other = await conn.erase(taskFor(sys, bob));
        assert.deepEqual([other.found, other.erased, other.details?.shared], [3, 3, 2]);
        assert.deepEqual(await kept(), keptBefore);
        assert.equal((await es.count({ index: 'shared' })).count, 3);
      } finally {
        await conn.close();
      }
    });

    it('the evidence hash holds no identifier', async () => {
      await createIndex(es, 'evidence');
      await seed(es, 'evidence', alice.userId!, 2);
      const sys = entry(server, 'evidence');
      const conn = elasticsearchConnector(sys);
      const a = await conn.erase(taskFor(sys, alice, 'req-same'));
      const b = await conn.erase(taskFor(sys, bob, 'req-same'));
      await conn.close();
      assert.match(a.evidenceHash, /^[0-9a-f]{64}$/);
      assert.equal(a.evidenceHash, b.evidenceHash, 'the identifier value is not part of the evidence');
      assert.equal(eraseMethodOf(a.details), version.method);
    });

    if (deleteByQuery) {
      // One node is enough: the plan's shape is read before either method runs.
      it('erases with a plan recorded before the allow-list (the whole entry minus the old deny-list), as with one of today', async () => {
        await createIndex(es, 'oldplan');
        await seed(es, 'oldplan', alice.userId!, 12);
        await seed(es, 'oldplan', bob.userId!, 5);
        const bobBefore = await snapshot(es, 'oldplan', bob.userId!);
        const sys = entry(server, 'oldplan');
        const conn = elasticsearchConnector(sys);
        try {
          const task = oldStyleTaskFor(sys, alice);
          assert.equal(task.system.spec.node, server.url, 'the old spec carries the node URL the allow-list leaves out');
          const r = await conn.erase(task);
          assert.equal(r.found, 12);
          assert.equal(r.erased, 12);
          assert.equal(eraseMethodOf(r.details), version.method);
          assert.equal((await es.count({ index: 'oldplan', query: { term: { user_id: alice.userId! } } })).count, 0);
          await assertErasedAsToday(conn, sys, task, r);
          assert.deepEqual(await snapshot(es, 'oldplan', bob.userId!), bobBefore);
        } finally {
          await conn.close();
        }
      });

      it('runs a large delete as a task it polls, heartbeating progress, and forgets the task afterwards', async () => {
        await createIndex(es, 'heavy');
        await seed(es, 'heavy', 'u-heavy', 5000);
        await seed(es, 'heavy', bob.userId!, 10);
        // Throttled so that the task runs for a few seconds, as a large deletion would.
        const sys = entry(server, 'heavy', { requestsPerSecond: 2500, scrollSize: 500 });
        const conn = elasticsearchConnector(sys);
        try {
          const { result, heartbeats } = await inActivity(() => conn.erase(taskFor(sys, { userId: 'u-heavy' })));
          assert.equal(result.erased, 5000);
          const running = heartbeats.filter((h) => (h as { running?: unknown }).running) as Array<{ taskId: string; running: { deleted: number } }>;
          assert.ok(running.length >= 3, `expected polls with progress, got ${running.length}`);
          assert.ok(running.some((h) => h.running.deleted > 0 && h.running.deleted < 5000), 'progress is visible while the task runs');
          // The stored task result quotes the query (the identifier): it must not stay behind in .tasks.
          const taskId = running[0].taskId;
          const stored = await es.get({ index: '.tasks', id: taskId }, { ignore: [404] }).catch(() => ({ found: false }));
          assert.equal((stored as { found?: boolean }).found ?? false, false);
          assert.deepEqual(await conn.verify(taskFor(sys, { userId: 'u-heavy' })), { remaining: 0 });
          assert.deepEqual(await conn.verify(taskFor(sys, bob)), { remaining: 10 });
        } finally {
          await conn.close();
        }
      });

      it('a retried attempt re-attaches to the task its crashed predecessor started instead of starting another', async () => {
        await createIndex(es, 'resume');
        await seed(es, 'resume', 'u-resume', 3000);
        const sys = entry(server, 'resume', { requestsPerSecond: 2000, scrollSize: 250 });
        // What attempt 1 did before its worker died: it started the delete-by-query and heartbeated the task id.
        const started = await es.deleteByQuery({
          index: 'resume', query: { bool: { filter: [{ term: { user_id: 'u-resume' } }] } }, conflicts: 'proceed', refresh: true,
          wait_for_completion: false, scroll_size: 250, requests_per_second: 2000,
        });
        const details = { op: 'erase', taskId: String(started.task), round: 0, found: 0, erased: 0, conflicts: 0, polls: 1 };
        const conn = elasticsearchConnector(sys);
        try {
          const { result } = await inActivity(() => conn.erase(taskFor(sys, { userId: 'u-resume' })), { heartbeatDetails: details, attempt: 2 });
          assert.equal(result.details?.resumed, 1);
          assert.equal(result.details?.rounds, 1, 'one delete-by-query in all');
          assert.equal(result.erased, 3000, 'the one task deleted everything');
          assert.deepEqual(await conn.verify(taskFor(sys, { userId: 'u-resume' })), { remaining: 0 });
        } finally {
          await conn.close();
        }
      });
    } else {
      it('erases through search + _bulk in rounds when the cluster has no _delete_by_query, leaving other subjects untouched, byte for byte', async () => {
        await createIndex(es, 'fallback');
        await seed(es, 'fallback', alice.userId!, 23);
        await seed(es, 'fallback', bob.userId!, 7);
        // A keyword value with spaces and non-ASCII characters (it is in the document ids too).
        await seed(es, 'fallback', spaced.userId!, 9);
        const bobBefore = await snapshot(es, 'fallback', bob.userId!);
        const spacedBefore = await snapshot(es, 'fallback', spaced.userId!);
        // The smallest batch the catalog allows, so that the erasure takes several rounds.
        const sys = entry(server, 'fallback', { scrollSize: 10 });
        // A real client of our own, so the paths the connector requests can be observed.
        const client = esClientFor(server);
        const paths: string[] = [];
        client.diagnostic.on('response', (_err, res) => {
          if (res?.meta.request.params.path) paths.push(res.meta.request.params.path);
        });
        const conn = elasticsearchConnector(sys, { client });
        const dbqCalls = () => paths.filter((p) => p.endsWith('/_delete_by_query')).length;
        try {
          const { result, heartbeats } = await inActivity(() => conn.erase(taskFor(sys, alice)));
          assert.equal(result.found, 23);
          assert.equal(result.erased, 23);
          assert.equal(eraseMethodOf(result.details), 'bulk');
          assert.equal(result.details?.bulkFallback, 1);
          assert.equal(result.details?.rounds, 3);
          const progress = heartbeats as Array<{ method?: string; erased: number; taskId?: string }>;
          assert.deepEqual(progress.filter((h) => h.method === 'bulk').map((h) => h.erased), [0, 10, 20, 23], 'progress after each round');
          assert.ok(progress.every((h) => h.taskId === undefined));
          assertNoPii(JSON.stringify(heartbeats), alice);
          assert.equal((await es.count({ index: 'fallback', query: { term: { user_id: alice.userId! } } })).count, 0);
          assert.deepEqual(await snapshot(es, 'fallback', bob.userId!), bobBefore);
          assert.deepEqual(await snapshot(es, 'fallback', spaced.userId!), spacedBefore);

          assert.equal(dbqCalls(), 1, 'delete-by-query was tried once');
          assert.ok(paths.some((p) => p === '/_bulk'));

          // Idempotent: the second run finds nothing and succeeds, going straight to the fallback.
          const again = await conn.erase(taskFor(sys, alice));
          assert.equal(dbqCalls(), 1, 'the connector remembers that the cluster has no delete-by-query');
          assert.equal(again.found, 0);
          assert.equal(again.erased, 0);
          assert.equal(eraseMethodOf(again.details), 'bulk');
          assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 0 });
          assert.deepEqual(await conn.verify(taskFor(sys, bob)), { remaining: 7 });

          const other = await conn.erase(taskFor(sys, spaced));
          assert.equal(other.found, 9);
          assert.equal(other.erased, 9);
          assert.deepEqual(await conn.verify(taskFor(sys, spaced)), { remaining: 0 });
          assert.deepEqual(await snapshot(es, 'fallback', bob.userId!), bobBefore);
          assert.equal((await es.count({ index: 'fallback' })).count, 7);
          assert.equal(dbqCalls(), 1);
        } finally {
          await conn.close();
          await client.close();
        }
      });

      it('a retried attempt resumes the fallback from its heartbeat, keeping the first count', async () => {
        await createIndex(es, 'resume8');
        // What attempt 1 left behind: it counted 30, deleted 20 with _bulk and heartbeated that before dying.
        await seed(es, 'resume8', 'u-resume', 10);
        const sys = entry(server, 'resume8', { scrollSize: 10 });
        const details = { op: 'erase', method: 'bulk', round: 2, found: 30, erased: 20, conflicts: 0, polls: 0 };
        const conn = elasticsearchConnector(sys);
        try {
          const { result } = await inActivity(() => conn.erase(taskFor(sys, { userId: 'u-resume' })), { heartbeatDetails: details, attempt: 2 });
          assert.equal(result.details?.resumed, 1);
          assert.equal(eraseMethodOf(result.details), 'bulk');
          assert.equal(result.found, 30);
          assert.equal(result.erased, 30);
          assert.equal(result.details?.rounds, 3);
          assert.deepEqual(await conn.verify(taskFor(sys, { userId: 'u-resume' })), { remaining: 0 });
        } finally {
          await conn.close();
        }
      });
    }

    describe('derived identifiers, preview and a verification wider than the erase', () => {
      /** Every document of an index, as stored (source, version, sequence number): any write would change it. */
      const stored = async (index: string, ids?: string[]): Promise<string[]> => {
        await es.indices.refresh({ index });
        const res = await es.search({ index, query: ids ? { ids: { values: ids } } : { match_all: {} }, size: 1000, seq_no_primary_term: true, version: true });
        return res.hits.hits.map((h) => JSON.stringify([h._index, h._id, h._version, h._seq_no, h._primary_term, h._source])).sort();
      };
      const put = async (index: string, field: string, docs: Record<string, unknown>) => {
        const ops = Object.entries(docs).flatMap(([id, value]) => [{ index: { _index: index, _id: id } }, { [field]: value, body: `document ${id}` }]);
        assert.equal((await es.bulk({ operations: ops, refresh: true })).errors, false);
      };

      it('erases every derived value (userId 17 and 18), keeps what also names someone else, and lets the request\'s own value win', async () => {
        await createIndex(es, 'derived');
        await put('derived', 'user_id', {
          'a17': '17', 'b17': '17', 'a18': '18', 'both-own': ['18', '17'], 'with-19': ['17', '19'], 'a19': '19', 'a170': '170', 'a1': '1',
        });
        const othersIds = ['with-19', 'a19', 'a170', 'a1'];
        const othersBefore = await stored('derived', othersIds);
        const sys = entry(server, 'derived');
        const conn = elasticsearchConnector(sys);
        try {
          const task = derivedTaskFor(sys, { email: 'only-mail@example.com' }, { userId: ['17', '18'] });
          // The request's own userId wins over derived ones: only user 19's document counts.
          assert.deepEqual(await conn.verify(derivedTaskFor(sys, { userId: '19' }, { userId: ['17', '18'] })), { remaining: 1 });
          assert.deepEqual(await conn.verify(task), { remaining: 4 });
          const r = await conn.erase(task);
          assert.equal(eraseMethodOf(r.details), version.method);
          assert.deepEqual([r.found, r.erased, r.details?.shared], [4, 4, 1], 'a17, b17, a18 and ["18", "17"] erased; ["17", "19"] kept');
          assert.deepEqual(await stored('derived', othersIds), othersBefore, 'users 19, 170 and 1 keep every byte');
          assert.deepEqual((await stored('derived')).length, othersIds.length);
          assert.deepEqual(await conn.verify(task), { remaining: 0 });
        } finally {
          await conn.close();
        }
      });

      it('previews documents per index that erase would delete and keep as shared, changing nothing', async () => {
        for (const index of ['preview-a', 'preview-b']) await createIndex(es, index);
        await put('preview-a', 'user_id', { 'own-1': alice.userId!, 'own-2': alice.userId!, 'shared': [alice.userId!, bob.userId!], 'bob': bob.userId! });
        await put('preview-b', 'user_id', { 'own-3': [alice.userId!, alice.userId!], 'bob': bob.userId! });
        const before = [...(await stored('preview-a')), ...(await stored('preview-b'))];
        const sys = entry(server, 'preview-*');
        const conn = elasticsearchConnector(sys);
        try {
          assert.deepEqual(await conn.preview!(taskFor(sys, alice)), {
            entries: [{ target: 'preview-a', delete: 2, anonymize: 0, shared: 1 }, { target: 'preview-b', delete: 1, anonymize: 0, shared: 0 }],
          });
          const none = await conn.preview!(taskFor(sys, { email: 'x@example.com' }));
          assert.deepEqual(none.entries, [{ target: 'preview-*', delete: 0, anonymize: 0, shared: 0 }]);
          assert.match(none.note ?? '', /the subject has no userId/);
          assert.deepEqual([...(await stored('preview-a')), ...(await stored('preview-b'))], before, 'nothing changed');
          const r = await conn.erase(taskFor(sys, alice));
          assert.deepEqual([r.found, r.details?.shared], [3, 1], 'the preview said what erase then did');
        } finally {
          await conn.close();
        }
      });

      it('verification counts the subject\'s e-mail in another case or with blanks around it; two spellings of it alone are the subject\'s, not shared', async () => {
        await es.indices.create({ index: 'mails', mappings: { properties: { email: { type: 'keyword' }, body: { type: 'text' } } }, settings: { number_of_shards: 2, number_of_replicas: 0 } });
        await put('mails', 'email', {
          'exact-1': alice.email!, 'exact-2': alice.email!,
          'two-spellings': [alice.email!, 'ALICE@example.com', ' alice@Example.com'],
          'with-bob': [alice.email!, bob.email!],
          'cased-copy': 'Alice@Example.COM',
          'padded-copy': ` ${alice.email!}\t`,
          // Other people's addresses that a careless pattern would take for Alice's.
          'bob': bob.email!, 'bob-cased': 'BOB@example.com', 'malice': 'malice@example.com', 'dot': 'alice@example-com', 'longer': `${alice.email!}.evil`,
        });
        const keep = ['with-bob', 'cased-copy', 'padded-copy', 'bob', 'bob-cased', 'malice', 'dot', 'longer'];
        const kept = await stored('mails', keep);
        const sys = entry(server, 'mails', { match: { field: 'email', identifier: 'email' } });
        const conn = elasticsearchConnector(sys);
        try {
          const preview = await conn.preview!(taskFor(sys, alice));
          assert.deepEqual(preview.entries, [{ target: 'mails', delete: 3, anonymize: 0, shared: 1 }]);
          assert.match(preview.note ?? '', /^2 documents hold the subject's e-mail only in another spelling/);
          assertNoPii(preview.note!, alice);
          const r = await conn.erase(taskFor(sys, alice));
          assert.equal(eraseMethodOf(r.details), version.method);
          assert.deepEqual([r.found, r.erased, r.details?.shared], [3, 3, 1], 'exact copies and the two-spellings document erased; the one naming Bob kept');
          assert.deepEqual(await stored('mails', keep), kept, 'everything else keeps every byte');
          assert.equal((await stored('mails')).length, keep.length);
          // The exact erase leaves the copies in another spelling; verification sees them.
          assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 2 });
          const again = await conn.erase(taskFor(sys, alice));
          assert.deepEqual([again.found, again.erased], [0, 0], 'erase stays exact: it never deletes by a looser comparison');
          assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 2 });
          assert.deepEqual(await conn.verify(taskFor(sys, bob)), { remaining: 2 }, 'Bob: his own and the cased copy; the shared document is not his to erase');
          assert.deepEqual(await stored('mails', keep), kept);
        } finally {
          await conn.close();
        }
      });
    });

    describe('failures', () => {
      it('refuses a text field, where a term query would silently match nothing', async () => {
        const sys = entry(server, 'documents', { match: { field: 'email_text', identifier: 'email' } });
        const conn = elasticsearchConnector(sys);
        const err = await failure(conn.erase(taskFor(sys, alice)));
        await conn.close();
        assertNonRetryable(err, 'search', /mapped as text; match on a keyword field/);
      });

      it('refuses a field of any type but keyword, where a term query would coerce the value (the term "042" matches the long 42)', async () => {
        await es.indices.create({ index: 'numeric', mappings: { properties: { account: { type: 'long' }, created: { type: 'date' }, user_id: { type: 'keyword' } } } });
        await es.bulk({ operations: [{ index: { _index: 'numeric', _id: 'n42' } }, { account: 42, created: '2024-01-01', user_id: 'u-42' }], refresh: true });
        const before = JSON.stringify(await es.get({ index: 'numeric', id: 'n42' }));
        for (const [field, type] of [['account', 'long'], ['created', 'date']]) {
          const sys = entry(server, 'numeric', { match: { field, identifier: 'userId' } });
          const conn = elasticsearchConnector(sys);
          const subject = { userId: field === 'account' ? '042' : '2024-01-01' };
          for (const op of [() => conn.erase(taskFor(sys, subject)), () => conn.verify(taskFor(sys, subject)), () => conn.check()]) {
            const err = await failure(op());
            assertNonRetryable(err, 'search', new RegExp(`field "${field}" is mapped as ${type}; match on a keyword field`));
            assertNoPii(err.message, subject);
          }
          await conn.close();
        }
        assert.equal(JSON.stringify(await es.get({ index: 'numeric', id: 'n42' })), before, 'nothing was deleted');
      });

      /** Every document of an index, as stored (source, version, sequence number): any write would change it. */
      const allDocs = async (index: string): Promise<string[]> => {
        await es.indices.refresh({ index });
        const res = await es.search({ index, query: { match_all: {} }, size: 1000, seq_no_primary_term: true, version: true, sort: ['_doc'] });
        return res.hits.hits.map((h) => JSON.stringify([h._id, h._version, h._seq_no, h._primary_term, h._source])).sort();
      };

      it('refuses a field inside a nested object, which a top-level term query never reaches (it would report 0 and leave the documents)', async () => {
        await es.indices.create({
          index: 'nested',
          mappings: { properties: { users: { type: 'nested', properties: { id: { type: 'keyword' } } }, user_id: { type: 'keyword' } } },
          settings: { number_of_shards: 1, number_of_replicas: 0 },
        });
        const ops = [
          { index: { _index: 'nested', _id: 'thread-alice' } }, { users: [{ id: alice.userId! }], user_id: 'x' },
          { index: { _index: 'nested', _id: 'thread-bob' } }, { users: [{ id: bob.userId! }], user_id: 'y' },
        ];
        assert.equal((await es.bulk({ operations: ops, refresh: true })).errors, false);
        const before = await allDocs('nested');
        const sys = entry(server, 'nested', { match: { field: 'users.id', identifier: 'userId' } });
        const conn = elasticsearchConnector(sys);
        try {
          for (const op of [() => conn.erase(taskFor(sys, alice)), () => conn.verify(taskFor(sys, alice)), () => conn.check()]) {
            const err = await failure(op());
            assertNonRetryable(err, 'search', /field "users\.id" is inside the nested object "users"; nested fields are not supported/);
            assertNoPii(err.message, alice, bob);
          }
        } finally {
          await conn.close();
        }
        assert.deepEqual(await allDocs('nested'), before, 'both subjects\' documents unchanged');
      });

      it('refuses a subject value longer than the field\'s ignore_above (never indexed, so a term finds nothing), and still erases a shorter one', async () => {
        await es.indices.create({
          index: 'ignored',
          mappings: { properties: { user_id: { type: 'keyword', ignore_above: 8 } } },
          settings: { number_of_shards: 1, number_of_replicas: 0 },
        });
        const long = { userId: 'u-123456789a' };
        assert.equal(long.userId.length, 12);
        const short = { userId: 'u-1' };
        const ops = [
          { index: { _index: 'ignored', _id: 'long' } }, { user_id: long.userId },
          { index: { _index: 'ignored', _id: 'short' } }, { user_id: short.userId },
          { index: { _index: 'ignored', _id: 'other' } }, { user_id: 'u-2' },
        ];
        assert.equal((await es.bulk({ operations: ops, refresh: true })).errors, false);
        const before = await allDocs('ignored');
        const sys = entry(server, 'ignored');
        const conn = elasticsearchConnector(sys);
        try {
          for (const op of [() => conn.erase(taskFor(sys, long)), () => conn.verify(taskFor(sys, long))]) {
            const err = await failure(op());
            assertNonRetryable(err, 'search', /longer than the ignore_above \(8\) of field "user_id"/);
            assertNoPii(err.message, long);
          }
          assert.deepEqual(await allDocs('ignored'), before, 'nothing was deleted');
          assert.match(await conn.check(), /reachable \(3 documents\)/);

          const r = await conn.erase(taskFor(sys, short));
          assert.deepEqual([r.found, r.erased], [1, 1]);
          assert.deepEqual(await conn.verify(taskFor(sys, short)), { remaining: 0 });
          assert.deepEqual(await allDocs('ignored'), before.filter((d) => !d.startsWith('["short"')), 'the long value\'s and the other subject\'s documents unchanged');
        } finally {
          await conn.close();
        }
      });

      it('refuses a keyword field with a normalizer, where erasing "u-1" would also delete another user\'s "U-1"', async () => {
        await es.indices.create({
          index: 'normalized',
          mappings: { properties: { user_id: { type: 'keyword', normalizer: 'lower' } } },
          settings: { number_of_shards: 1, number_of_replicas: 0, analysis: { normalizer: { lower: { type: 'custom', filter: ['lowercase'] } } } },
        });
        const lower = { userId: 'u-1' };
        const upper = { userId: 'U-1' };
        const ops = [
          { index: { _index: 'normalized', _id: 'lower' } }, { user_id: lower.userId },
          { index: { _index: 'normalized', _id: 'upper' } }, { user_id: upper.userId },
        ];
        assert.equal((await es.bulk({ operations: ops, refresh: true })).errors, false);
        const before = await allDocs('normalized');
        const sys = entry(server, 'normalized');
        const conn = elasticsearchConnector(sys);
        try {
          for (const op of [() => conn.erase(taskFor(sys, lower)), () => conn.verify(taskFor(sys, lower)), () => conn.check()]) {
            const err = await failure(op());
            assertNonRetryable(err, 'search', /field "user_id" has a normalizer \("lower"\)/);
            assertNoPii(err.message, lower, upper);
          }
        } finally {
          await conn.close();
        }
        assert.deepEqual(await allDocs('normalized'), before, 'both subjects\' documents unchanged');
      });

      it('a missing index is named: retried by erase and verify (a recovering node answers so too; see transient-faults.test.ts), permanent for check', async () => {
        const sys = entry(server, 'no-such-index');
        const conn = elasticsearchConnector(sys);
        for (const op of [() => conn.erase(taskFor(sys, alice)), () => conn.verify(taskFor(sys, alice))]) {
          const err = await failure(op());
          assertRetryable(err, 'search');
          assert.match(err.message, /index "no-such-index" not found \(HTTP 404, index_not_found_exception\)/);
          assertNoPii(err.message, alice);
        }
        assertNonRetryable(await failure(conn.check()), 'search', 'index "no-such-index" does not exist');
        await conn.close();
      });
    });
  });
}

describe('Elasticsearch connector without a server', () => {
  it('a refused connection is retryable', async () => {
    const sys = system({ id: 'search', kind: 'elasticsearch', node: `http://127.0.0.1:${await freePort()}`, index: 'documents', match: { field: 'user_id', identifier: 'userId' } });
    const conn = elasticsearchConnector(sys);
    const err = await failure(conn.erase(taskFor(sys, alice)));
    await conn.close();
    assertRetryable(err, 'search');
  });
});
