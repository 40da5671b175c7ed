import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import pg from 'pg';
import { postgresConnector, REDACTED } from '../../src/systems/postgres/connector';
import type { PostgresSystem } from '../../src/systems/postgres';
import { freePort } from '../../src/dev/servers';
import { freshDatabase, postgres, warmUp } from './servers';
import { alice, assertErasedAsToday, assertNoPii, assertNonRetryable, assertRetryable, bob, failure, inActivity, oldStyleTaskFor, system, taskFor } from './helpers';

warmUp('postgres');

const hmacKey = 'test-hmac-key-0123456789';

interface Person {
  email: string;
  user: string;
  customers: number;
  /** Per customer. */
  orders: number;
  /** Per order. */
  items: number;
  events: number;
}

/** One subject's customers, orders, items and events; `ids` numbers the items and events (keys not generated). */
async function seedPerson(db: pg.Client, p: Person, ids: { item: number; event: number }): Promise<void> {
  for (let c = 0; c < p.customers; c++) {
    const { rows } = await db.query<{ id: string }>('INSERT INTO customers (email, name) VALUES ($1, $2) RETURNING id', [p.email, `name ${c} of ${p.email}`]);
    for (let o = 0; o < p.orders; o++) {
      const order = await db.query<{ id: string }>('INSERT INTO orders (customer_id, email, total) VALUES ($1, $2, $3) RETURNING id', [rows[0].id, p.email, 10 + o]);
      for (let i = 0; i < p.items; i++) {
        await db.query('INSERT INTO order_items VALUES ($1, $2, $3, $4)', [++ids.item, order.rows[0].id, p.email, `sku-${i}`]);
      }
    }
  }
  for (let e = 0; e < p.events; e++) await db.query('INSERT INTO "UserEvents" VALUES ($1, $2, $3)', [++ids.event, p.user, { n: e }]);
}

/** Two subjects across tables: FK parent and children, an anonymized table, a mixed-case table name. */
async function seed(db: pg.Client): Promise<void> {
  await db.query(`
    CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL, name text, deleted_at timestamptz);
    CREATE INDEX ON customers (email);
    CREATE TABLE orders (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), customer_id bigint NOT NULL REFERENCES customers(id), email text NOT NULL, total numeric(10,2));
    CREATE TABLE order_items (id int PRIMARY KEY, order_id uuid NOT NULL REFERENCES orders(id), email text NOT NULL, sku text);
    CREATE TABLE invoices (id int PRIMARY KEY, customer_email varchar(200), customer_name text, address text, amount_cents int NOT NULL);
    CREATE TABLE "UserEvents" (id bigint PRIMARY KEY, "userId" text, payload jsonb);
  `);
  const ids = { item: 0, event: 0 };
  await seedPerson(db, { email: alice.email!, user: alice.userId!, customers: 2, orders: 3, items: 2, events: 7 }, ids);
  await seedPerson(db, { email: bob.email!, user: bob.userId!, customers: 1, orders: 2, items: 3, events: 4 }, ids);
  await db.query(`INSERT INTO invoices VALUES
    (1, $1, 'Alice A.', '1 Alice Street', 1000), (2, $2, 'Bob B.', '2 Bob Road', 2000), (3, $1, 'Alice A.', '1 Alice Street', 3000)`, [alice.email, bob.email]);
}

/** Every row of every table as PostgreSQL's own text form, for byte-for-byte comparison. */
async function dump(db: pg.Client, where: string, params: unknown[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [table, col] of [['customers', 'email'], ['orders', 'email'], ['order_items', 'email'], ['invoices', 'customer_email'], ['"UserEvents"', '"userId"']]) {
    const { rows } = await db.query<{ r: string }>(`SELECT t::text AS r FROM ${table} t WHERE ${col} ${where} ORDER BY t::text`, params);
    out[table] = rows.map((r) => r.r);
  }
  return out;
}

function catalogEntry(url: string, extra: Partial<Record<string, unknown>> = {}): PostgresSystem {
  return system({
    id: 'shop-db',
    kind: 'postgres',
    connection: url,
    hmacKey,
    tables: [
      { table: 'order_items', match: { column: 'email', identifier: 'email' }, action: 'delete' },
      { table: 'orders', match: { column: 'email', identifier: 'email' }, action: 'delete', batchSize: 2 },
      { table: 'customers', match: { column: 'email', identifier: 'email' }, action: 'delete', softDeleteColumn: 'deleted_at' },
      {
        table: 'invoices',
        match: { column: 'customer_email', identifier: 'email' },
        action: 'anonymize',
        columns: [
          { column: 'customer_email', mask: { strategy: 'hmac' } },
          { column: 'customer_name', mask: { strategy: 'fixed', value: 'Former customer' } },
          'address',
        ],
      },
      { table: 'UserEvents', match: { column: 'userId', identifier: 'userId' }, action: 'delete', batchSize: 3 },
    ],
    ...extra,
  });
}

describe('PostgreSQL connector (real server)', function () {
  let db: pg.Client;
  let url: string;

  before(async function () {
    ({ client: db, url } = await freshDatabase('connector_pg'));
    await seed(db);
  });
  after(async () => db?.end());

  it('erases every row of the subject, children first, and leaves another subject byte for byte', async () => {
    const conn = postgresConnector(catalogEntry(url));
    const bobBefore = await dump(db, '= ANY($1)', [[bob.email, bob.userId]]);
    try {
      const { result, heartbeats } = await inActivity(() => conn.erase(taskFor(catalogEntry(url), alice)));
      // 2 customers, 6 orders, 12 items, 2 invoices anonymized, 7 events.
      assert.equal(result.found, 29);
      assert.equal(result.erased, 29);
      assert.equal(result.action, 'mixed');
      assert.equal(result.details?.['rows:public.order_items'], 12);
      assert.equal(result.details?.['rows:public.orders'], 6);
      assert.equal(result.details?.['rows:public.invoices'], 2);
      assert.equal(result.details?.['rows:public.UserEvents'], 7);
      assert.match(result.evidenceHash, /^[0-9a-f]{64}$/);
      assert.ok(heartbeats.length >= 5, `expected heartbeats per batch, got ${heartbeats.length}`);

      const aliceLeft = await dump(db, '= ANY($1)', [[alice.email, alice.userId]]);
      assert.deepEqual(aliceLeft, { customers: [], orders: [], order_items: [], invoices: [], '"UserEvents"': [] });
      // Anonymized invoices stay (amounts are kept for the books) with every personal column masked.
      const { rows: invoices } = await db.query('SELECT * FROM invoices WHERE id IN (1, 3) ORDER BY id');
      const expected = createHmac('sha256', hmacKey).update(alice.email!).digest('hex');
      assert.deepEqual(invoices, [
        { id: 1, customer_email: expected, customer_name: 'Former customer', address: REDACTED, amount_cents: 1000 },
        { id: 3, customer_email: expected, customer_name: 'Former customer', address: REDACTED, amount_cents: 3000 },
      ]);
      assert.deepEqual(await dump(db, '= ANY($1)', [[bob.email, bob.userId]]), bobBefore);
    } finally {
      await conn.close();
    }
  });

  it('finds nothing on a second run and verifies 0 remaining', async () => {
    const conn = postgresConnector(catalogEntry(url));
    try {
      const again = await conn.erase(taskFor(catalogEntry(url), alice));
      assert.equal(again.found, 0);
      assert.equal(again.erased, 0);
      assert.deepEqual(await conn.verify(taskFor(catalogEntry(url), alice)), { remaining: 0 });
      assert.equal((await conn.verify(taskFor(catalogEntry(url), bob))).remaining, 1 + 2 + 6 + 1 + 4);
    } finally {
      await conn.close();
    }
  });

  it('erases with a plan recorded before the allow-list (the whole entry minus the old deny-list), as with one of today', async () => {
    const grace = { email: 'grace@example.com', userId: 'u-grace' };
    await seedPerson(db, { email: grace.email, user: grace.userId, customers: 1, orders: 2, items: 2, events: 3 }, { item: 1000, event: 1000 });
    await db.query(`INSERT INTO invoices VALUES (100, $1, 'Grace G.', '7 Grace Lane', 700)`, [grace.email]);
    const bobBefore = await dump(db, '= ANY($1)', [[bob.email, bob.userId]]);
    const entry = catalogEntry(url);
    const conn = postgresConnector(entry);
    try {
      const task = oldStyleTaskFor(entry, grace);
      assert.equal(task.system.spec.lockTimeoutMs, 5000, 'the old spec carries settings the allow-list leaves out');
      const r = await conn.erase(task);
      // 1 customer, 2 orders, 4 items, 1 invoice anonymized, 3 events.
      assert.equal(r.found, 11);
      assert.equal(r.erased, 11);
      assert.equal(r.action, 'mixed');
      assert.deepEqual(await dump(db, '= ANY($1)', [[grace.email, grace.userId]]), { customers: [], orders: [], order_items: [], invoices: [], '"UserEvents"': [] });
      const { rows: invoices } = await db.query('SELECT * FROM invoices WHERE id = 100');
      assert.deepEqual(invoices, [
        { id: 100, customer_email: createHmac('sha256', hmacKey).update(grace.email).digest('hex'), customer_name: 'Former customer', address: REDACTED, amount_cents: 700 },
      ]);
      await assertErasedAsToday(conn, entry, task, r);
      assert.deepEqual(await dump(db, '= ANY($1)', [[bob.email, bob.userId]]), bobBefore);
    } finally {
      await conn.close();
    }
  });

  it('treats identifier values as data, never as SQL', async () => {
    await db.query(`CREATE TABLE notes (id serial PRIMARY KEY, owner text)`);
    await db.query(`INSERT INTO notes (owner) VALUES ($1), ('a'), ('b'), ($1)`, [`x' OR '1'='1`]);
    const entry = system({ id: 'notes-db', kind: 'postgres', connection: url, tables: [{ table: 'notes', match: { column: 'owner', identifier: 'userId' }, action: 'delete' }] });
    const conn = postgresConnector(entry);
    try {
      const r = await conn.erase(taskFor(entry, { userId: `x' OR '1'='1` }));
      assert.equal(r.erased, 2);
      assert.deepEqual((await db.query('SELECT owner FROM notes ORDER BY id')).rows, [{ owner: 'a' }, { owner: 'b' }]);
    } finally {
      await conn.close();
    }
  });

  it('soft-deletes through the declared column and restores on cancel', async () => {
    await db.query('INSERT INTO customers (email, name) VALUES ($1, $2), ($1, $3)', ['carol@example.com', 'Carol', 'Carol 2']);
    const entry = catalogEntry(url);
    const conn = postgresConnector(entry);
    const carol = { email: 'carol@example.com' };
    const bobBefore = await dump(db, '= ANY($1)', [[bob.email, bob.userId]]);
    try {
      assert.deepEqual(await conn.softDelete!(taskFor(entry, carol)), { affected: 2 });
      assert.deepEqual(await conn.softDelete!(taskFor(entry, carol)), { affected: 0 }, 'idempotent');
      const { rows } = await db.query('SELECT count(*)::int AS n FROM customers WHERE email = $1 AND deleted_at IS NOT NULL', [carol.email]);
      assert.equal(rows[0].n, 2);
      assert.deepEqual(await conn.restore!(taskFor(entry, carol)), { restored: 2 });
      const after = await db.query('SELECT count(*)::int AS n FROM customers WHERE email = $1 AND deleted_at IS NULL', [carol.email]);
      assert.equal(after.rows[0].n, 2);
      assert.deepEqual(await dump(db, '= ANY($1)', [[bob.email, bob.userId]]), bobBefore);
    } finally {
      await conn.close();
    }
  });

  it('a retried attempt resumes from the key sets its first attempt resolved, and counts every row once', async () => {
    await db.query(`CREATE TABLE logs (id int PRIMARY KEY, who text)`);
    await db.query(`INSERT INTO logs SELECT g, 'dave' FROM generate_series(1, 50) g`);
    await db.query(`INSERT INTO logs SELECT g, 'erin' FROM generate_series(51, 60) g`);
    const erinBefore = (await db.query("SELECT * FROM logs WHERE who = 'erin' ORDER BY id")).rows;
    const entry = system({ id: 'logs-db', kind: 'postgres', connection: url, tables: [{ table: 'logs', match: { column: 'who', identifier: 'userId' }, action: 'delete', batchSize: 10 }] });
    const task = taskFor(entry, { userId: 'dave' });
    // A first attempt whose worker died after two batches (ids 1–20).
    let seen = 0;
    const dying = postgresConnector(entry, { onBatch: () => { if (++seen === 2) throw new Error('worker died'); } });
    await assert.rejects(inActivity(() => dying.erase(task)), /PostgreSQL call failed/);
    await dying.close();
    assert.equal((await db.query("SELECT count(*)::int AS n FROM logs WHERE who = 'dave'")).rows[0].n, 30);
    const batches: number[] = [];
    const resumed = postgresConnector(entry, { onBatch: (b) => batches.push(b.rows) });
    try {
      const { result } = await inActivity(() => resumed.erase(task), { attempt: 2 });
      assert.equal(result.details?.resumed, 1);
      assert.equal(result.erased, 50, 'the rows resolved before the crash are the count');
      assert.deepEqual(batches, [10, 10, 10, 0], 'took up at the third batch of keys');
      // The same attempt lineage asked again (its answer was lost) answers the same, changing nothing.
      const again = await inActivity(() => resumed.erase(task), { attempt: 3 });
      assert.equal(again.result.erased, 50);
      assert.equal((await resumed.verify(task)).remaining, 0);
      assert.deepEqual((await db.query("SELECT * FROM logs WHERE who = 'erin' ORDER BY id")).rows, erinBefore);
      const left = await db.query('SELECT count(*)::int AS n FROM erasure_engine.erasure_keys');
      assert.equal(left.rows[0].n, 0, 'no key of the subject is left behind in the work table');
    } finally {
      await resumed.close();
    }
  });

  describe('failures', () => {
    it('a missing table is permanent and named', async () => {
      const entry = system({ id: 'shop-db', kind: 'postgres', connection: url, tables: [{ table: 'no_such_table', match: { column: 'email', identifier: 'email' }, action: 'delete' }] });
      const conn = postgresConnector(entry);
      const err = await failure(conn.erase(taskFor(entry, alice)));
      await conn.close();
      assertNonRetryable(err, 'shop-db', 'public.no_such_table');
      assertNoPii(err.message, alice);
    });

    it('a value that does not fit its column, as identifier or as mask, is permanent and not quoted', async () => {
      await db.query('CREATE TABLE numbered (id int PRIMARY KEY, account int, owner text, tier int)');
      await db.query('INSERT INTO numbered VALUES (1, 7, $1, 1)', [alice.email]);
      const byAccount = system({ id: 'shop-db', kind: 'postgres', connection: url, tables: [{ table: 'numbered', match: { column: 'account', identifier: 'email' }, action: 'delete' }] });
      const conn = postgresConnector(byAccount);
      // An e-mail address is no integer: a configuration mistake an operator must see, never "nothing found".
      const wrongType = await failure(conn.erase(taskFor(byAccount, alice)));
      await conn.close();
      assertNonRetryable(wrongType, 'shop-db', 'public.numbered');
      assertNoPii(wrongType.message, alice);
      const masked = system({
        id: 'shop-db', kind: 'postgres', connection: url,
        tables: [{ table: 'numbered', match: { column: 'owner', identifier: 'email' }, action: 'anonymize', columns: ['owner', { column: 'tier', mask: { strategy: 'fixed', value: alice.email } }] }],
      });
      const masking = postgresConnector(masked);
      const err = await failure(masking.erase(taskFor(masked, alice)));
      await masking.close();
      assertNonRetryable(err, 'shop-db', 'public.numbered');
      assertNoPii(err.message, alice);
      assert.equal((await db.query('SELECT count(*)::int AS n FROM numbered WHERE owner = $1', [alice.email])).rows[0].n, 1, 'the failed batch changed nothing');
    });

    it('bad credentials are permanent', async () => {
      // Password authentication for one role; everything else keeps the shared test server's trust.
      const { rows } = await db.query<{ hba_file: string }>('SHOW hba_file');
      const hba = rows[0].hba_file;
      if (!fs.readFileSync(hba, 'utf8').includes('erasure_pw')) {
        fs.writeFileSync(hba, `host all erasure_pw 127.0.0.1/32 scram-sha-256\n${fs.readFileSync(hba, 'utf8')}`);
        await db.query(`CREATE ROLE erasure_pw LOGIN PASSWORD 'right-password'`);
        await db.query('SELECT pg_reload_conf()');
      }
      const bad = new URL(url);
      bad.username = 'erasure_pw';
      bad.password = 'wrong-password';
      const entry = catalogEntry(bad.href);
      const conn = postgresConnector(entry);
      const err = await failure(conn.verify(taskFor(entry, alice)));
      await conn.close();
      assertNonRetryable(err, 'shop-db', 'authentication');
      assert.ok(!err.message.includes('wrong-password'));
    });

    it('a database that does not exist is permanent', async () => {
      const server = await postgres();
      const entry = catalogEntry(server.urlFor('no_such_db'));
      const conn = postgresConnector(entry);
      const err = await failure(conn.verify(taskFor(entry, alice)));
      await conn.close();
      assertNonRetryable(err, 'shop-db', 'database');
    });

    it('a refused connection is retryable', async () => {
      const entry = catalogEntry(`postgres://postgres@127.0.0.1:${await freePort()}/x`);
      const conn = postgresConnector(entry);
      const err = await failure(conn.erase(taskFor(entry, alice)));
      await conn.close();
      assertRetryable(err, 'shop-db');
      assert.match(err.message, /ECONNREFUSED/);
    });

    it('a lock held past lock_timeout is retryable, and nothing waits forever', async () => {
      const entry = catalogEntry(url, { lockTimeoutMs: 300 });
      const conn = postgresConnector(entry);
      const holder = new pg.Client({ connectionString: url });
      await holder.connect();
      await db.query('INSERT INTO customers (email, name) VALUES ($1, $2)', ['erin@example.com', 'Erin']);
      await holder.query('BEGIN');
      await holder.query('SELECT * FROM customers WHERE email = $1 FOR UPDATE', ['erin@example.com']);
      try {
        const err = await failure(conn.erase(taskFor(entry, { email: 'erin@example.com' })));
        assertRetryable(err, 'shop-db');
        assert.match(err.message, /55P03/);
      } finally {
        await holder.query('ROLLBACK');
        await holder.end();
        await conn.close();
      }
    });

    it('check() reports tables and columns the catalog names but the database lacks', async () => {
      const entry = system({
        id: 'shop-db', kind: 'postgres', connection: url,
        tables: [
          { table: 'customers', match: { column: 'email', identifier: 'email' }, action: 'delete', softDeleteColumn: 'removed_at' },
          { table: 'ghosts', match: { column: 'email', identifier: 'email' }, action: 'delete' },
        ],
      });
      const conn = postgresConnector(entry);
      const err = await failure(conn.check());
      await conn.close();
      assertNonRetryable(err, 'shop-db', /public\.customers lacks column removed_at; table public\.ghosts not found/);
      const good = postgresConnector(catalogEntry(url));
      assert.match(await good.check(), /5 tables with every declared column/);
      await good.close();
    });
  });
});
