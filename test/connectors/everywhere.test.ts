/**
 * The connectors as the worker uses them: a catalog file with ${ENV} secrets, the request's plan snapshot,
 * and createActivities with the registry's connectors (no map given), erasing one subject from PostgreSQL,
 * a versioned S3 bucket, an Elasticsearch index and a webhook receiver at once.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { CreateBucketCommand, GetObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Client as EsClient } from '@elastic/elasticsearch';
import { createActivities, logNotifier } from '../../src/activities';
import { buildPlan, parseCatalog } from '../../src/catalog/load';
import { createLogger } from '../../src/logger';
import { defaultPolicies } from '../../src/domain';
import type { SubjectIdentifiers } from '../../src/domain';
import { serve, type Served } from '../harness/serve';
import { elasticsearch, esClientFor, freshDatabase, minio, s3ClientFor, warmUp } from './servers';

warmUp('postgres', 'minio', 'es7');

const A: SubjectIdentifiers = { email: 'anna@example.com', userId: 'u-anna' };
const B: SubjectIdentifiers = { email: 'ben@example.com', userId: 'u-ben' };

const catalogYaml = `
systems:
  - id: shop-db
    kind: postgres
    connection: \${SHOP_DB}
    hmacKey: \${SHOP_HMAC}
    tables:
      - { table: orders, match: { column: email, identifier: email }, action: delete }
      - { table: customers, match: { column: email, identifier: email }, action: delete }
      - table: invoices
        match: { column: email, identifier: email }
        action: anonymize
        columns: [{ column: email, mask: { strategy: hmac } }, name]
  - id: documents
    kind: s3
    bucket: everywhere-docs
    endpoint: \${S3_URL}
    accessKeyId: \${S3_KEY}
    secretAccessKey: \${S3_SECRET}
    prefixes: ["users/{userId}/"]
  - id: search
    kind: elasticsearch
    node: \${ES_URL}
    index: everywhere
    match: { field: user_id, identifier: userId }
  - id: crm
    kind: webhook
    url: \${HOOK_URL}
    secret: \${HOOK_SECRET}
  - { id: paper-files, kind: manual, owner: archive-team }
`;

describe('every kind of system through createActivities (real PostgreSQL, MinIO, Elasticsearch, HTTP)', function () {
  let db: pg.Client;
  let s3: S3Client;
  let es: EsClient;
  let hook: Served;
  const hookCalls: string[] = [];
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const [{ client, url }, m, esServer] = await Promise.all([freshDatabase('everywhere'), minio(), elasticsearch(7)]);
    db = client;
    await db.query(`
      CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL, name text);
      CREATE TABLE orders (id serial PRIMARY KEY, email text NOT NULL REFERENCES customers(email), item text);
      CREATE TABLE invoices (id serial PRIMARY KEY, email text, name text, cents int);
      INSERT INTO customers (email, name) VALUES ('anna@example.com', 'Anna'), ('ben@example.com', 'Ben');
      INSERT INTO orders (email, item) VALUES ('anna@example.com', 'book'), ('anna@example.com', 'pen'), ('ben@example.com', 'lamp');
      INSERT INTO invoices (email, name, cents) VALUES ('anna@example.com', 'Anna', 100), ('ben@example.com', 'Ben', 200);
    `);
    s3 = s3ClientFor(m);
    await s3.send(new CreateBucketCommand({ Bucket: 'everywhere-docs' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'everywhere-docs', VersioningConfiguration: { Status: 'Enabled' } }));
    for (const who of ['u-anna', 'u-ben']) {
      for (const v of [1, 2]) await s3.send(new PutObjectCommand({ Bucket: 'everywhere-docs', Key: `users/${who}/scan ${v} – Übersicht.pdf`, Body: `${who} ${v}` }));
    }
    es = esClientFor(esServer);
    await es.indices.create({ index: 'everywhere', mappings: { properties: { user_id: { type: 'keyword' } } } });
    await es.bulk({ refresh: true, operations: [
      { index: { _index: 'everywhere', _id: 'a1' } }, { user_id: 'u-anna', text: 'Anna 1' },
      { index: { _index: 'everywhere', _id: 'a2' } }, { user_id: 'u-anna', text: 'Anna 2' },
      { index: { _index: 'everywhere', _id: 'b1' } }, { user_id: 'u-ben', text: 'Ben 1' },
    ] });
    hook = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hookCalls.push(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ found: 1, erased: 1 }));
      });
    });
    env = {
      SHOP_DB: url,
      SHOP_HMAC: 'everywhere-hmac-key-0123',
      S3_URL: m.endpoint,
      S3_KEY: m.accessKeyId,
      S3_SECRET: m.secretAccessKey,
      ES_URL: esServer.url,
      HOOK_URL: `${hook.url}/erase`,
      HOOK_SECRET: 'everywhere-hook-secret-01',
    };
  });
  after(async () => {
    await hook?.close();
    s3?.destroy();
    await es?.close();
    await db?.end();
  });

  /** Everything Ben has, in every system, with the bytes. */
  async function bens(): Promise<string[]> {
    const rows = await db.query<{ r: string }>(`
      SELECT 'c ' || c::text AS r FROM customers c WHERE email = $1 UNION ALL
      SELECT 'o ' || o::text FROM orders o WHERE email = $1 UNION ALL
      SELECT 'i ' || i::text FROM invoices i WHERE email = $1 ORDER BY 1`, [B.email]);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'everywhere-docs', Prefix: 'users/u-ben/' }));
    const objects = await Promise.all((versions.Versions ?? []).map(async (v) => {
      const body = await (await s3.send(new GetObjectCommand({ Bucket: 'everywhere-docs', Key: v.Key, VersionId: v.VersionId }))).Body!.transformToString();
      return `s3 ${v.Key} ${v.VersionId} ${v.ETag} ${body}`;
    }));
    const docs = await es.search({ index: 'everywhere', query: { term: { user_id: 'u-ben' } }, version: true, seq_no_primary_term: true });
    return [...rows.rows.map((r) => r.r), ...objects.sort(), ...docs.hits.hits.map((h) => JSON.stringify([h._id, h._version, h._seq_no, h._source]))];
  }

  it('erases subject A from every automated system; B is untouched; again finds 0; verify finds 0', async () => {
    const catalog = parseCatalog(catalogYaml, 'everywhere.yaml', env);
    const plan = buildPlan(catalog, defaultPolicies.GDPR);
    assert.ok(!JSON.stringify(plan).includes(env.S3_SECRET!), 'no secret in the plan');
    const logger = createLogger({ level: 'silent' });
    const activities = createActivities({
      catalog,
      notifier: logNotifier(logger),
      audit: { recordEvent: async () => undefined },
      certificates: { issue: async () => ({ certificateId: 'n/a' }) },
      logger,
    });
    const benBefore = await bens();
    const automated = plan.systems.filter((s) => s.mode === 'automated');
    assert.deepEqual(automated.map((s) => s.id), ['shop-db', 'documents', 'search', 'crm']);
    const task = (system: (typeof automated)[number]) => ({ requestId: 'req-everywhere', subject: A, subjectRef: 'subj_everywhere', system });
    try {
      const first = await Promise.all(automated.map((s) => activities.eraseSystem(task(s))));
      assert.deepEqual(first.map((r) => [r.found, r.erased]), [[4, 4], [2, 2], [2, 2], [1, 1]]);
      const again = await Promise.all(automated.filter((s) => s.kind !== 'webhook').map((s) => activities.eraseSystem(task(s))));
      assert.deepEqual(again.map((r) => r.found), [0, 0, 0]);
      const verified = await Promise.all(automated.map((s) => activities.verifySystem(task(s))));
      assert.deepEqual(verified.map((v) => v.remaining), [0, 0, 0, 0]);
      assert.deepEqual(await bens(), benBefore);
      assert.equal(hookCalls.length, 1, 'the webhook received the erase call');
      assert.equal(JSON.parse(hookCalls[0]).identifiers.email, A.email);
    } finally {
      await activities.closeConnectors();
    }
  });
});
