/**
 * Volume: 100,000 rows and 5,000 object versions of one subject, erased with heartbeats, no transaction
 * larger than a batch. Larger runs belong in bench/.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { CreateBucketCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { postgresConnector } from '../../src/systems/postgres/connector';
import { s3Connector } from '../../src/systems/s3/connector';
import { freshDatabase, minio, s3ClientFor, warmUp } from './servers';
import { inActivity, system, taskFor } from './helpers';
import { tarOf } from './tar';

warmUp('postgres', 'minio');

const ROWS = 100_000;
const OBJECTS = 5_000;

describe('volume (real PostgreSQL and MinIO)', function () {
  let db: pg.Client;
  let url: string;

  before(async () => {
    ({ client: db, url } = await freshDatabase('connector_volume'));
  });
  after(async () => db?.end());

  it(`erases ${ROWS.toLocaleString('en')} rows of one subject in transactions of at most 1,000 rows, heartbeating each`, async () => {
    const t0 = Date.now();
    await db.query(`
      CREATE TABLE activity (id bigint PRIMARY KEY, user_id text NOT NULL, payload text);
      CREATE INDEX ON activity (user_id, id);
      INSERT INTO activity SELECT g, CASE WHEN g % 101 = 0 THEN 'u-other' ELSE 'u-volume' END, 'event ' || g FROM generate_series(1, ${Math.ceil(ROWS * 101 / 100)}) g;
      -- Server-side evidence: rows deleted per transaction, recorded by a statement trigger.
      CREATE TABLE tx_audit (txid bigint NOT NULL, n int NOT NULL);
      CREATE FUNCTION audit_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO tx_audit SELECT txid_current(), count(*) FROM gone; RETURN NULL; END $$;
      CREATE TRIGGER audit AFTER DELETE ON activity REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION audit_delete();
      ANALYZE activity;
    `);
    const subjectRows = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM activity WHERE user_id = 'u-volume'`)).rows[0].n;
    const otherBefore = (await db.query<{ h: string }>(`SELECT md5(string_agg(a::text, ',' ORDER BY id)) AS h FROM activity a WHERE user_id = 'u-other'`)).rows[0].h;
    assert.ok(subjectRows >= ROWS, `seeded ${subjectRows}`);
    const seeded = Date.now() - t0;

    const sys = system({ id: 'events-db', kind: 'postgres', connection: url, tables: [{ table: 'activity', match: { column: 'user_id', identifier: 'userId' }, action: 'delete' }] });
    const conn = postgresConnector(sys);
    const t1 = Date.now();
    const { result, heartbeats } = await inActivity(() => conn.erase(taskFor(sys, { userId: 'u-volume' })));
    const erasing = Date.now() - t1;
    await conn.close();

    assert.equal(result.erased, subjectRows);
    assert.ok(heartbeats.length >= subjectRows / 1000, `${heartbeats.length} heartbeats`);
    const tx = (await db.query<{ max: number; count: number; total: number }>('SELECT max(s)::int AS max, count(*)::int AS count, sum(s)::int AS total FROM (SELECT sum(n) AS s FROM tx_audit GROUP BY txid) t')).rows[0];
    assert.ok(tx.max <= 1000, `largest transaction deleted ${tx.max} rows`);
    assert.equal(tx.total, subjectRows);
    assert.equal((await db.query(`SELECT 1 FROM activity WHERE user_id = 'u-volume' LIMIT 1`)).rowCount, 0);
    const otherAfter = (await db.query<{ h: string }>(`SELECT md5(string_agg(a::text, ',' ORDER BY id)) AS h FROM activity a WHERE user_id = 'u-other'`)).rows[0].h;
    assert.equal(otherAfter, otherBefore);
    console.log(`      postgres: seeded ${subjectRows} rows in ${seeded} ms; erased in ${erasing} ms, ${tx.count} transactions (largest ${tx.max} rows), ${heartbeats.length} heartbeats`);
  });

  it(`erases ${OBJECTS.toLocaleString('en')} objects (with versions) in DeleteObjects batches of at most 1,000, heartbeating each`, async () => {
    const m = await minio();
    const client: S3Client = s3ClientFor(m);
    const bucket = 'volume-versioned';
    const t0 = Date.now();
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    // MinIO unpacks a tar sent with snowball-auto-extract into one object per entry: far faster than 5,000 PUTs.
    const files = Array.from({ length: OBJECTS }, (_, i) => ({ name: `users/u-volume/${Math.floor(i / 500)}/file ${i} ✓ é.txt`, body: `object ${i}` }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'seed.tar', Body: tarOf(files), Metadata: { 'snowball-auto-extract': 'true' } }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'users/u-volume2/keep.txt', Body: 'not the subject' }));
    const seeded = Date.now() - t0;

    const sys = system({ id: 'documents', kind: 's3', bucket, endpoint: m.endpoint, accessKeyId: m.accessKeyId, secretAccessKey: m.secretAccessKey, prefixes: ['users/{userId}/'] });
    const batches: number[] = [];
    const conn = s3Connector(sys, { onBatch: (b) => batches.push(b.objects) });
    const t1 = Date.now();
    const { result, heartbeats } = await inActivity(() => conn.erase(taskFor(sys, { userId: 'u-volume' })));
    const erasing = Date.now() - t1;
    try {
      assert.equal(result.found, OBJECTS);
      assert.equal(result.erased, OBJECTS);
      assert.ok(Math.max(...batches) <= 1000);
      assert.equal(batches.length, OBJECTS / 1000);
      assert.ok(heartbeats.length >= OBJECTS / 1000);
      assert.deepEqual(await conn.verify(taskFor(sys, { userId: 'u-volume' })), { remaining: 0 });
      const left = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'users/' }));
      assert.deepEqual((left.Versions ?? []).map((v) => v.Key), ['users/u-volume2/keep.txt']);
      assert.deepEqual(left.DeleteMarkers ?? [], []);
    } finally {
      await conn.close();
      client.destroy();
    }
    console.log(`      s3: seeded ${OBJECTS} objects in ${seeded} ms; erased in ${erasing} ms, ${batches.length} DeleteObjects calls, ${heartbeats.length} heartbeats`);
  });
});
