/**
 * The systems that hold personal data in the automated benchmarks: a target PostgreSQL (separate from the
 * engine's), MinIO and an Elasticsearch 7.17 node, all on 127.0.0.1, with seeding, a catalog for them, and
 * the checks the proofs need (what is left of the erased subjects, a fingerprint of everyone else's data).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Pool } from 'pg';
import { startElasticsearch, type ElasticsearchServer } from '../../src/dev/elasticsearch';
import { startMinio, startPostgres, type MinioServer, type PostgresServer } from '../../src/dev/servers';
import { pool } from './cluster';
import { onCleanup } from './report';

export const BUCKET = 'documents';
export const INDEX = 'documents';

/** Subject `i` of a seeded population. */
export const subjectOf = (tag: string, i: number) => ({ email: `${tag}-${i}@example.com`, userId: `${tag}-u${i}` });

export interface Targets {
  dir: string;
  /** The servers' process ids now (they change when a fault restarts one). */
  pids(): { postgres?: number; minio?: number; elasticsearch?: number };
  pg: PostgresServer;
  minio: MinioServer;
  es: ElasticsearchServer;
  db: Pool;
  s3: S3Client;
  /** Catalog YAML for the three systems; `extra` is appended under `systems:`. */
  catalog(opts?: { postgres?: boolean; s3?: boolean; elasticsearch?: boolean }): string;
  /** Restarts PostgreSQL on the same port and data folder. */
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  stopElasticsearch(): Promise<void>;
  startElasticsearch(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the three target systems and creates the schema, bucket and index (empty). */
export async function startTargets(opts: { elasticsearch?: boolean; /** PostgreSQL settings (statement statistics). */ pgSettings?: Record<string, string> } = {}): Promise<Targets> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-bench-targets-'));
  let pg = await startPostgres({ dataDir: path.join(dir, 'pg'), settings: opts.pgSettings });
  await pg.createDatabase('app');
  const minio = await startMinio({ dataDir: path.join(dir, 'minio') });
  let es: ElasticsearchServer | undefined = opts.elasticsearch === false ? undefined : await startElasticsearch({ major: 7, dataDir: path.join(dir, 'es') });
  const esPort = es ? Number(new URL(es.url).port) : 0;
  const db = new Pool({ connectionString: pg.urlFor('app'), max: 8 });
  db.on('error', () => undefined); // idle connections die when a fault stops PostgreSQL; the pool reconnects
  await db.query(`
    CREATE TABLE IF NOT EXISTS customers (id bigserial PRIMARY KEY, email text NOT NULL, name text NOT NULL);
    CREATE INDEX IF NOT EXISTS customers_email ON customers (email);
    CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, customer_email text NOT NULL, item text NOT NULL, amount int NOT NULL);
    CREATE INDEX IF NOT EXISTS orders_email ON orders (customer_email);`);
  const s3 = new S3Client({
    endpoint: minio.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  if (es) await esCall(es.url, 'PUT', `/${INDEX}`, { settings: { number_of_shards: 1, number_of_replicas: 0 }, mappings: { properties: { user_id: { type: 'keyword' }, body: { type: 'text' } } } });

  const targets: Targets = {
    dir,
    get pg() {
      return pg;
    },
    minio,
    get es() {
      if (!es) throw new Error('Elasticsearch was not started');
      return es;
    },
    db,
    s3,
    catalog({ postgres = true, s3: withS3 = true, elasticsearch = Boolean(es) } = {}) {
      const systems: string[] = [];
      if (postgres) {
        systems.push(`
  - id: app-db
    kind: postgres
    connection: ${pg.urlFor('app')}
    tables:
      - { table: orders, match: { column: customer_email, identifier: email }, action: delete }
      - { table: customers, match: { column: email, identifier: email }, action: delete }`);
      }
      if (withS3) {
        systems.push(`
  - id: documents
    kind: s3
    bucket: ${BUCKET}
    prefixes: ["users/{userId}/"]
    endpoint: ${minio.endpoint}
    accessKeyId: ${minio.accessKeyId}
    secretAccessKey: ${minio.secretAccessKey}`);
      }
      if (elasticsearch) {
        systems.push(`
  - id: search
    kind: elasticsearch
    node: http://127.0.0.1:${esPort}
    index: ${INDEX}
    match: { field: user_id, identifier: userId }
    pollIntervalMs: 200`);
      }
      return `systems:${systems.join('')}\n`;
    },
    pids: () => ({ postgres: pg.process.pid, minio: minio.process.pid, elasticsearch: es?.process.pid }),
    async stopPostgres() {
      await pg.stop();
    },
    async startPostgres() {
      pg = await startPostgres({ dataDir: path.join(dir, 'pg'), port: pg.port, settings: opts.pgSettings });
    },
    async stopElasticsearch() {
      await es?.stop();
    },
    async startElasticsearch() {
      es = await startElasticsearch({ major: 7, dataDir: path.join(dir, 'es'), port: esPort });
    },
    async stop() {
      unregister();
      await db.end().catch(() => undefined);
      s3.destroy();
      await es?.stop();
      await minio.stop();
      await pg.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const unregister = onCleanup(() => targets.stop());
  return targets;
}

export async function esCall(base: string, method: string, url: string, body?: unknown, ndjson = false): Promise<any> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
    body: body === undefined ? undefined : ndjson ? String(body) : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`Elasticsearch ${method} ${url} answered ${res.status}: ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * Seeds `count` subjects tagged `tag`: per subject 1 customer row, `orders` order rows, `objects` S3 objects
 * under users/<userId>/ and `docs` Elasticsearch documents.
 */
export async function seed(t: Targets, tag: string, count: number, per = { orders: 3, objects: 2, docs: 2 }): Promise<void> {
  const ids = Array.from({ length: count }, (_, i) => i);
  await t.db.query(
    `INSERT INTO customers (email, name) SELECT $1 || '-' || i || '@example.com', 'Name ' || i FROM generate_series(0, $2 - 1) i`,
    [tag, count],
  );
  await t.db.query(
    `INSERT INTO orders (customer_email, item, amount) SELECT $1 || '-' || i || '@example.com', 'item ' || j, j FROM generate_series(0, $2 - 1) i, generate_series(1, $3) j`,
    [tag, count, per.orders],
  );
  await pool(count * per.objects, 32, async (k) => {
    const s = subjectOf(tag, Math.floor(k / per.objects));
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `users/${encodeURIComponent(s.userId)}/doc-${k % per.objects}.txt`, Body: `document ${k} of ${s.userId}` }));
  });
  if (per.docs > 0) {
    for (let start = 0; start < count; start += 2000) {
      const lines: string[] = [];
      for (const i of ids.slice(start, start + 2000)) {
        for (let d = 0; d < per.docs; d++) {
          lines.push(JSON.stringify({ index: { _index: INDEX } }), JSON.stringify({ user_id: subjectOf(tag, i).userId, body: `note ${d}` }));
        }
      }
      const res = await esCall(t.es.url, 'POST', '/_bulk?refresh=true', `${lines.join('\n')}\n`, true);
      if (res.errors) throw new Error('Elasticsearch bulk seeding reported errors');
    }
  }
}

/** What is left of subjects tagged `tag`: rows, objects, documents. */
export async function remaining(t: Targets, tag: string, opts: { elasticsearch?: boolean } = {}): Promise<{ rows: number; objects: number; docs: number }> {
  const { rows } = await t.db.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM customers WHERE email LIKE $1) + (SELECT count(*) FROM orders WHERE customer_email LIKE $1) AS n`,
    [`${tag}-%`],
  );
  const objects = await countObjects(t, `users/${tag}-u`);
  let docs = 0;
  if (opts.elasticsearch !== false) {
    await esCall(t.es.url, 'POST', `/${INDEX}/_refresh`);
    docs = (await esCall(t.es.url, 'POST', `/${INDEX}/_count`, { query: { prefix: { user_id: `${tag}-u` } } })).count;
  }
  return { rows: Number(rows[0].n), objects, docs };
}

export async function countObjects(t: Targets, prefix: string): Promise<number> {
  let n = 0;
  let token: string | undefined;
  do {
    const res = await t.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    n += res.KeyCount ?? 0;
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return n;
}

/** A digest of every row, object key and document of subjects tagged `tag` (other subjects' data). */
export async function fingerprint(t: Targets, tag: string, opts: { elasticsearch?: boolean } = {}): Promise<{ digest: string; rows: number; objects: number; docs: number }> {
  const h = createHash('sha256');
  const c = await t.db.query(`SELECT id, email, name FROM customers WHERE email LIKE $1 ORDER BY id`, [`${tag}-%`]);
  const o = await t.db.query(`SELECT id, customer_email, item, amount FROM orders WHERE customer_email LIKE $1 ORDER BY id`, [`${tag}-%`]);
  for (const r of [...c.rows, ...o.rows]) h.update(JSON.stringify(r));
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const res = await t.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `users/${tag}-u`, ContinuationToken: token }));
    for (const obj of res.Contents ?? []) keys.push(`${obj.Key}:${obj.ETag}`);
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  h.update(keys.sort().join('\n'));
  let docs = 0;
  if (opts.elasticsearch !== false) {
    await esCall(t.es.url, 'POST', `/${INDEX}/_refresh`);
    const res = await esCall(t.es.url, 'POST', `/${INDEX}/_search?size=10000&sort=_id`, { query: { prefix: { user_id: `${tag}-u` } }, _source: true });
    for (const hit of res.hits.hits) h.update(`${hit._id}:${JSON.stringify(hit._source)}`);
    docs = res.hits.hits.length;
  }
  return { digest: h.digest('hex'), rows: c.rowCount! + o.rowCount!, objects: keys.length, docs };
}

/** Removes everything of subjects tagged `tag` (to reseed the same data). */
export async function wipe(t: Targets, tag: string): Promise<void> {
  await t.db.query(`DELETE FROM orders WHERE customer_email LIKE $1`, [`${tag}-%`]);
  await t.db.query(`DELETE FROM customers WHERE email LIKE $1`, [`${tag}-%`]);
  for (;;) {
    const res = await t.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `users/${tag}-u` }));
    if (!res.Contents?.length) break;
    await t.s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: res.Contents.map((o) => ({ Key: o.Key! })), Quiet: true } }));
  }
  await esCall(t.es.url, 'POST', `/${INDEX}/_delete_by_query?refresh=true&conflicts=proceed`, { query: { prefix: { user_id: `${tag}-u` } } });
}
