/**
 * Scale: one subject with many rows in PostgreSQL (default 1,000,000, batches of 1,000 per transaction), the
 * same subject as a shop customer with many order items two hops away (customer → orders → order_item,
 * default 1,000 orders × 1,000 items, found through the catalog's references) and many objects under one S3
 * prefix in MinIO (default 100,000), erased by one request. Reports the time from
 * the POST to the certificate, each system's time, rows/s and objects/s (from the certificate's receipts),
 * and the longest transaction the engine held open on the target database (pg_stat_activity, sampled every
 * 100 ms).
 *
 *   npx ts-node bench/scale.ts [--quick] [--rows=1000000] [--items=1000000] [--objects=100000]
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { api, certified, pool, startCluster, submit, until } from './lib/cluster';
import { args, printTable, run, writeResult } from './lib/report';
import { BUCKET, countObjects, startTargets } from './lib/targets';

run(async () => {
  const a = args();
  const rowCount = a.num('rows', a.quick ? 100_000 : 1_000_000);
  const objectCount = a.num('objects', a.quick ? 10_000 : 100_000);
  const itemCount = a.num('items', a.quick ? 100_000 : 1_000_000);
  const ordersOfSubject = 1000;
  const targets = await startTargets({ elasticsearch: false });
  try {
    const subject = { email: 'big.subject@example.com', userId: 'big-subject' };
    const s0 = Date.now();
    await targets.db.query(`
      CREATE TABLE activity (id bigserial PRIMARY KEY, email text NOT NULL, payload text NOT NULL);
      CREATE INDEX activity_email ON activity (email);`);
    await targets.db.query(`INSERT INTO activity (email, payload) SELECT $1, 'event ' || i FROM generate_series(1, $2) i`, [subject.email, rowCount]);
    // Someone else's rows, interleaved after the subject's, must survive.
    await targets.db.query(`INSERT INTO activity (email, payload) SELECT 'other-' || i || '@example.com', 'event ' || i FROM generate_series(1, 10000) i`);
    await targets.db.query('ANALYZE activity');
    // The relational case: one customer, her orders, their items; other customers' orders and items interleaved.
    await targets.db.query(`
      CREATE TABLE shop_customer (id int PRIMARY KEY, email text NOT NULL);
      CREATE INDEX ON shop_customer (email);
      CREATE TABLE shop_order (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES shop_customer (id), placed text);
      CREATE INDEX ON shop_order (customer_id);
      CREATE TABLE order_item (order_id int NOT NULL REFERENCES shop_order (id), item_no int NOT NULL, sku text, PRIMARY KEY (order_id, item_no));
      INSERT INTO shop_customer SELECT i, CASE WHEN i = 1 THEN $1 ELSE 'customer-' || i || '@example.com' END FROM generate_series(1, 1000) i;
      INSERT INTO shop_order SELECT i, CASE WHEN i % 2 = 1 THEN 1 ELSE 2 + i % 998 END, 'order ' || i FROM generate_series(1, ${ordersOfSubject * 2}) i;`.replace('$1', `'${subject.email}'`));
    const perOrder = Math.max(1, Math.round(itemCount / ordersOfSubject));
    await targets.db.query(`INSERT INTO order_item SELECT o, n, 'sku-' || n FROM generate_series(1, ${ordersOfSubject * 2}) o, generate_series(1, ${perOrder}) n`);
    await targets.db.query('ANALYZE shop_customer; ANALYZE shop_order; ANALYZE order_item');
    await pool(objectCount, 64, (k) =>
      targets.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `users/${subject.userId}/obj-${k}.txt`, Body: `object ${k}` })),
    );
    await pool(100, 16, (k) => targets.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `users/${subject.userId}x/obj-${k}.txt`, Body: 'other' })));
    const seedS = (Date.now() - s0) / 1000;
    process.stdout.write(`seeded ${rowCount} rows and ${objectCount} objects in ${seedS.toFixed(1)} s\n`);

    const catalog = `systems:
  - id: activity-db
    kind: postgres
    connection: ${targets.pg.urlFor('app')}
    tables:
      - { table: activity, match: { column: email, identifier: email }, action: delete }
  - id: shop-db
    kind: postgres
    connection: ${targets.pg.urlFor('app')}
    tables:
      - { table: shop_customer, match: { column: email, identifier: email }, action: delete }
      - { table: shop_order, match: { column: customer_id, references: shop_customer.id }, action: delete }
      - { table: order_item, primaryKey: [order_id, item_no], match: { column: order_id, references: shop_order.id }, action: delete }
  - id: documents
    kind: s3
    bucket: ${BUCKET}
    prefixes: ["users/{userId}/"]
    endpoint: ${targets.minio.endpoint}
    accessKeyId: ${targets.minio.accessKeyId}
    secretAccessKey: ${targets.minio.secretAccessKey}
`;
    const cluster = await startCluster({ catalog });
    let longestTxMs = 0;
    // What the longest transaction was running, its first words (names from the catalog, no values).
    let longestTxQuery = '';
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await targets.db
          .query<{ ms: number | null; query: string | null }>(
            `SELECT extract(epoch FROM clock_timestamp() - xact_start) * 1000::float8 AS ms, left(query, 120) AS query FROM pg_stat_activity
             WHERE datname = 'app' AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND application_name NOT LIKE 'bench%'
               AND backend_type = 'client backend'
             ORDER BY xact_start LIMIT 1`,
          )
          .catch(() => ({ rows: [] as Array<{ ms: number | null; query: string | null }> }));
        const top = rows[0];
        if (top && (top.ms ?? 0) > longestTxMs) {
          longestTxMs = top.ms ?? 0;
          longestTxQuery = (top.query ?? '').replace(/\s+/g, ' ').slice(0, 100);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    let totalS: number;
    let cert: any;
    try {
      const t0 = Date.now();
      await submit(cluster, { requestId: 'scale-1', jurisdiction: 'GDPR', subject });
      await until(async () => (await certified(cluster, 'scale-1')) === 1, 'the certificate', 60 * 60_000, 500);
      totalS = (Date.now() - t0) / 1000;
      cert = (await api(cluster, 'GET', '/erasures/scale-1/certificate')).json;
    } finally {
      sampling = false;
      await sampler;
      await cluster.stop();
    }
    const systems: Array<{ systemId: string; found: number; erased: number; remaining: number; attempts: number; startedAt: string; completedAt: string }> =
      cert.systems ?? cert.certificate?.systems ?? [];
    const rowsLeft = Number((await targets.db.query<{ n: string }>('SELECT count(*) AS n FROM activity WHERE email = $1', [subject.email])).rows[0].n);
    const othersLeft = Number((await targets.db.query<{ n: string }>(`SELECT count(*) AS n FROM activity WHERE email <> $1`, [subject.email])).rows[0].n);
    const itemsLeft = Number((await targets.db.query<{ n: string }>('SELECT count(*) AS n FROM order_item WHERE order_id % 2 = 1')).rows[0].n);
    const otherItems = Number((await targets.db.query<{ n: string }>('SELECT count(*) AS n FROM order_item WHERE order_id % 2 = 0')).rows[0].n);
    const objectsLeft = await countObjects(targets, `users/${subject.userId}/`);
    const otherObjects = await countObjects(targets, `users/${subject.userId}x/`);
    const rows = systems.map((s) => {
      const secs = (Date.parse(s.completedAt) - Date.parse(s.startedAt)) / 1000;
      return { system: s.systemId, found: s.found, erased: s.erased, remaining: s.remaining, attempts: s.attempts, seconds: round(secs), 'items/s': Math.round(s.erased / secs) };
    });
    printTable(`Scale: ${rowCount} rows + ${ordersOfSubject * perOrder} order items two hops away + ${objectCount} objects of one subject, one request (${round(totalS)} s POST → certificate)`, rows);
    process.stdout.write(`longest transaction (${Math.round(longestTxMs)} ms) was running: ${longestTxQuery}\n`);
    printTable('Checks', [
      { 'longest transaction ms': Math.round(longestTxMs), 'subject rows left': rowsLeft, 'subject items left': itemsLeft, [`other items (${ordersOfSubject * perOrder} seeded)`]: otherItems, 'subject objects left': objectsLeft, 'other rows (10000 seeded)': othersLeft, 'other objects (100 seeded)': otherObjects },
    ]);
    const pgRow = rows.find((r) => r.system === 'activity-db');
    const s3Row = rows.find((r) => r.system === 'documents');
    const shopRow = rows.find((r) => r.system === 'shop-db');
    writeResult('scale', {
      rows: rowCount,
      objects: objectCount,
      seedSeconds: round(seedS),
      totalSeconds: round(totalS),
      rowsPerSecond: pgRow?.['items/s'],
      objectsPerSecond: s3Row?.['items/s'],
      orderItems: ordersOfSubject * perOrder,
      relationalRowsPerSecond: shopRow?.['items/s'],
      subjectItemsLeft: itemsLeft,
      otherItemsLeft: otherItems,
      longestTransactionMs: Math.round(longestTxMs),
      longestTransactionStatement: longestTxQuery,
      batchSize: 1000,
      systems: rows,
      subjectRowsLeft: rowsLeft,
      subjectObjectsLeft: objectsLeft,
      otherRowsLeft: othersLeft,
      otherObjectsLeft: otherObjects,
    });
  } finally {
    await targets.stop();
  }
});

const round = (x: number) => Math.round(x * 100) / 100;
