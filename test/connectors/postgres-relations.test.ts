/**
 * PostgreSQL relations: rows found through references (children by foreign key, the row a subject's row
 * points at, many hops, lists of paths, composite keys, a table listed twice), changed in the relations'
 * order, shared rows kept, and each way matching could widen closed. Every test compares the rows that
 * are not the subject's, as PostgreSQL's text form, before and after.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { postgresConnector } from '../../src/systems/postgres/connector';
import type { PostgresSystem } from '../../src/systems/postgres';
import { postgresSystemSchema } from '../../src/systems/postgres/schema';
import { freshDatabase, warmUp } from './servers';
import { assertNonRetryable, derivedTaskFor, failure, system, taskFor } from './helpers';

warmUp('postgres');

const alice = { email: 'alice@example.com' };
const bob = { email: 'bob@example.com' };

const SCHEMA = `
  DROP TABLE IF EXISTS ticket, order_item, orders, customer, address, events CASCADE;
  CREATE TABLE address (id int PRIMARY KEY, street text NOT NULL);
  CREATE TABLE customer (id int PRIMARY KEY, email text NOT NULL, address_id int REFERENCES address (id));
  CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer (id), ship_to int REFERENCES address (id), shipping_name text);
  CREATE INDEX ON orders (customer_id);
  CREATE TABLE order_item (order_id int REFERENCES orders (id), item_no int, sku text, PRIMARY KEY (order_id, item_no));
  CREATE TABLE ticket (id int PRIMARY KEY, opener_email text, opener_id int REFERENCES customer (id), alt_email text, body text);
  CREATE TABLE events (id int PRIMARY KEY, user_ref text, what text);
  INSERT INTO address VALUES (10, 'Alice street 1'), (20, 'Bob road 2'), (30, 'Carol lane 3');
  INSERT INTO customer VALUES (1, 'alice@example.com', 10), (2, 'bob@example.com', 20), (3, 'carol@example.com', 30),
    (4, 'alice@example.com.au', 30), (5, 'malice@example.com', NULL);
  -- Alice's order 101 ships to Bob's address; Bob's order 200 ships to Alice's: her address is shared.
  INSERT INTO orders VALUES (100, 1, 10, 'Alice A'), (101, 1, 20, 'Alice A'), (200, 2, 10, 'Bob B'), (300, 3, 30, 'Carol C');
  INSERT INTO order_item VALUES (100, 1, 'sku-1'), (100, 2, 'sku-2'), (101, 1, 'sku-1'), (200, 1, 'sku-1'), (300, 1, 'sku-3');
  -- 1: opened by Alice (by id); 2: opened by her e-mail only; 3: Bob's, Alice the alternate contact; 4: Carol's.
  INSERT INTO ticket VALUES (1, NULL, 1, NULL, 'help'), (2, 'alice@example.com', NULL, NULL, 'again'),
    (3, 'bob@example.com', 2, 'alice@example.com', 'bob asks'), (4, 'carol@example.com', 3, 'bob@example.com', 'carol asks');
  INSERT INTO events VALUES (1, '1', 'alice event'), (2, '01', 'not alice'), (3, '10', 'not alice'), (4, '2', 'bob event'), (5, ' 1', 'not alice');
`;

/** The catalog of the schema above; `overrides` replace table entries by name. */
function shop(url: string, overrides: Record<string, Record<string, unknown>> = {}, extra: unknown[] = []): PostgresSystem {
  const tables: Array<Record<string, unknown>> = [
    { table: 'customer', match: { column: 'email', identifier: 'email' }, action: 'delete', provides: { userId: 'id' } },
    { table: 'address', match: { column: 'id', references: 'customer.address_id' }, action: 'delete' },
    { table: 'orders', match: { column: 'customer_id', references: 'customer.id' }, action: 'delete' },
    { table: 'order_item', primaryKey: ['order_id', 'item_no'], match: { column: 'order_id', references: 'orders.id' }, action: 'delete', batchSize: 1 },
    { name: 'ticket_opened', table: 'ticket', match: [{ column: 'opener_email', identifier: 'email' }, { column: 'opener_id', references: 'customer.id' }], action: 'delete' },
    { name: 'ticket_alt', table: 'ticket', match: { column: 'alt_email', identifier: 'email' }, action: 'anonymize', columns: [{ column: 'alt_email', mask: { strategy: 'null' } }] },
  ].map((t) => ({ ...t, ...(overrides[(t.name ?? t.table) as string] ?? {}) }));
  // Listed backwards on purpose: the order of changes comes from the relations, not from the list.
  return system({ id: 'shop-db', kind: 'postgres', connection: url, tables: [...tables.reverse(), ...extra] });
}

/** Every row of every table, as text, keyed by table. */
async function everything(db: pg.Client): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of ['address', 'customer', 'orders', 'order_item', 'ticket', 'events']) {
    out[t] = (await db.query<{ r: string }>(`SELECT t::text AS r FROM ${t} t ORDER BY 1`)).rows.map((r) => r.r);
  }
  return out;
}

/** `before` minus the rows listed per table in `gone`, plus the rows in `added` (a changed row is in both). */
function expect(before: Record<string, string[]>, gone: Record<string, string[]>, added: Record<string, string[]> = {}): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [t, rows] of Object.entries(before)) {
    const drop = new Set(gone[t] ?? []);
    for (const r of drop) assert.ok(rows.includes(r), `the fixture has no row ${r} in ${t}`);
    out[t] = [...rows.filter((r) => !drop.has(r)), ...(added[t] ?? [])].sort();
  }
  return out;
}

describe('PostgreSQL relations (real server)', function () {
  let db: pg.Client;
  let url: string;

  before(async () => ({ client: db, url } = await freshDatabase('connector_pg_relations')));
  beforeEach(async () => db.query(SCHEMA));
  after(async () => db?.end());

  it('erases the subject\'s rows through every relation, in the relations\' order, and keeps a shared address', async () => {
    const sys = shop(url);
    const conn = postgresConnector(sys);
    try {
      const before = await everything(db);
      const preview = await conn.preview!(taskFor(sys, alice));
      assert.deepEqual(await everything(db), before, 'the preview changed nothing');
      const result = await conn.erase(taskFor(sys, alice));
      const after = await everything(db);
      assert.deepEqual(after, expect(before, {
        customer: ['(1,alice@example.com,10)'],
        orders: ['(100,1,10,"Alice A")', '(101,1,20,"Alice A")'],
        order_item: ['(100,1,sku-1)', '(100,2,sku-2)', '(101,1,sku-1)'],
        ticket: ['(1,,1,,help)', '(2,alice@example.com,,,again)', '(3,bob@example.com,2,alice@example.com,"bob asks")'],
      }, { ticket: ['(3,bob@example.com,2,,"bob asks")'] }));
      // Address 10 is Alice's, but Bob's order 200 still ships there: kept and counted as shared.
      assert.equal(result.details?.['rows:public.address'], 0);
      assert.equal(result.details?.['shared:public.address'], 1);
      assert.equal(result.details?.['rows:public.order_item'], 3);
      assert.equal(result.details?.['rows:public.ticket'], 3, 'two opened tickets deleted, one alternate contact nulled');
      assert.equal(result.erased, 1 + 2 + 3 + 3);
      assert.equal(result.found, result.erased + 1);
      const byTarget = Object.fromEntries(preview.entries.map((e) => [e.target, e]));
      assert.deepEqual(byTarget['public.address'], { target: 'public.address', delete: 0, anonymize: 0, shared: 1 });
      assert.deepEqual(byTarget['public.order_item'], { target: 'public.order_item', delete: 3, anonymize: 0, shared: 0 });
      assert.deepEqual(byTarget['public.ticket (ticket_alt)'], { target: 'public.ticket (ticket_alt)', delete: 0, anonymize: 1, shared: 0 });
      assert.deepEqual(preview.derived, { userId: 1 });
      assert.equal((await conn.verify(taskFor(sys, alice))).remaining, 0);
      assert.equal((await conn.erase(taskFor(sys, alice))).erased, 0, 'a second erase finds nothing');
    } finally {
      await conn.close();
    }
  });

  it('a shared row is anonymized or erased when the table opts in, and kept rows of others stay', async () => {
    for (const [onShared, street] of [['anonymize', '(10,[redacted])'], ['erase', undefined]] as const) {
      await db.query(SCHEMA);
      // With `erase`, Bob's order must stop pointing at the address first: nothing here may touch his row.
      if (onShared === 'erase') await db.query('UPDATE orders SET ship_to = NULL WHERE id = 200');
      const sys = shop(url, { address: { onShared, ...(onShared === 'anonymize' ? { columns: ['street'] } : {}) } });
      const before = await everything(db);
      const conn = postgresConnector(sys);
      try {
        const result = await conn.erase(taskFor(sys, alice));
        const addresses = (await everything(db)).address;
        if (street) assert.deepEqual(addresses, ['(20,"Bob road 2")', '(30,"Carol lane 3")', street].sort());
        else assert.deepEqual(addresses, ['(20,"Bob road 2")', '(30,"Carol lane 3")'], 'no one points at it any more: not shared, deleted');
        assert.deepEqual((await everything(db)).orders, before.orders.filter((r) => !r.includes('Alice')));
        assert.equal(result.details?.['shared:public.address'], undefined);
        assert.equal((await conn.verify(taskFor(sys, alice))).remaining, 0);
      } finally {
        await conn.close();
      }
    }
  });

  it('provides the customer ids, and a table matched on the derived id takes exactly them (no "01", "10", " 1")', async () => {
    const events = { table: 'events', match: { column: 'user_ref', identifier: 'userId' }, action: 'delete' };
    const sys = shop(url, {}, [events]);
    const conn = postgresConnector(sys);
    try {
      assert.deepEqual(await conn.identify!(taskFor(sys, alice)), { userId: ['1'] });
      assert.deepEqual(await conn.identify!(taskFor(sys, { email: 'nobody@example.com' })), {});
      await db.query("INSERT INTO customer VALUES (6, 'alice@example.com', NULL)");
      assert.deepEqual((await conn.identify!(taskFor(sys, alice))).userId.sort(), ['1', '6'], 'two customer rows for one e-mail: both ids');
      const before = await everything(db);
      await conn.erase(derivedTaskFor(sys, alice, { userId: ['1', '6'] }));
      assert.deepEqual((await everything(db)).events, before.events.filter((r) => r !== '(1,1,"alice event")'));
    } finally {
      await conn.close();
    }
  });

  it('verify looks wider than erase: a differently cased or padded copy of the e-mail is remaining', async () => {
    await db.query("INSERT INTO customer VALUES (7, ' Alice@Example.COM', NULL)");
    const sys = shop(url);
    const conn = postgresConnector(sys);
    try {
      const before = await everything(db);
      await conn.erase(taskFor(sys, alice));
      assert.ok((await everything(db)).customer.includes('(7," Alice@Example.COM",)'), 'the exact erase leaves the variant');
      assert.equal((await conn.verify(taskFor(sys, alice))).remaining, 1, 'the variant is found');
      // Prefixes and superstrings are never the subject's: malice@…, alice@….com.au stay.
      assert.ok(before.customer.includes('(5,malice@example.com,)') && (await everything(db)).customer.includes('(5,malice@example.com,)'));
      assert.ok((await everything(db)).customer.includes('(4,alice@example.com.au,30)'));
    } finally {
      await conn.close();
    }
  });

  it('an e-mail column under an accent- and case-insensitive collation matches byte for byte only', async () => {
    await db.query(`
      DROP TABLE IF EXISTS nd_contacts;
      DROP COLLATION IF EXISTS loose;
      CREATE COLLATION loose (provider = icu, locale = 'und-u-ks-level1', deterministic = false);
      CREATE TABLE nd_contacts (id int PRIMARY KEY, email text COLLATE loose);
      INSERT INTO nd_contacts VALUES (1, 'alice@example.com'), (2, 'ALICE@example.com'), (3, 'alicé@example.com');`);
    const sys = system({ id: 'nd-db', kind: 'postgres', connection: url, tables: [{ table: 'nd_contacts', match: { column: 'email', identifier: 'email' }, action: 'delete' }] });
    const conn = postgresConnector(sys);
    try {
      assert.equal((await db.query("SELECT count(*)::int AS n FROM nd_contacts WHERE email = 'alice@example.com'")).rows[0].n, 3, 'the collation alone would take all three');
      assert.equal((await conn.erase(taskFor(sys, alice))).erased, 1);
      assert.deepEqual((await db.query('SELECT id FROM nd_contacts ORDER BY id')).rows, [{ id: 2 }, { id: 3 }]);
    } finally {
      await conn.close();
    }
  });

  it('a reference between columns of different types compares text exactly: an imported "042" never reaches account 42', async () => {
    await db.query(`
      DROP TABLE IF EXISTS accounts, imports;
      CREATE TABLE imports (id int PRIMARY KEY, email text, ref text);
      CREATE TABLE accounts (id int PRIMARY KEY, customer_no int, note text);
      INSERT INTO imports VALUES (1, 'alice@example.com', '042'), (2, 'alice@example.com', '7'), (3, 'bob@example.com', '42');
      INSERT INTO accounts VALUES (1, 42, 'bob''s'), (2, 7, 'alice''s'), (3, 420, 'nobody''s');`);
    const sys = system({
      id: 'legacy-db', kind: 'postgres', connection: url,
      tables: [
        { table: 'imports', match: { column: 'email', identifier: 'email' }, action: 'delete' },
        { table: 'accounts', match: { column: 'customer_no', references: 'imports.ref' }, action: 'delete' },
      ],
    });
    const conn = postgresConnector(sys);
    try {
      const preview = await conn.preview!(taskFor(sys, alice));
      assert.deepEqual(preview.entries.map((e) => [e.target, e.delete]), [['public.imports', 2], ['public.accounts', 1]]);
      await conn.erase(taskFor(sys, alice));
      assert.deepEqual((await db.query('SELECT id FROM accounts ORDER BY id')).rows, [{ id: 1 }, { id: 3 }]);
      assert.deepEqual((await db.query('SELECT id FROM imports ORDER BY id')).rows, [{ id: 3 }]);
    } finally {
      await conn.close();
    }
  });

  it('a reference to a column the table lacks is refused before anything changes', async () => {
    const sys = shop(url, { address: { match: { column: 'id', references: 'customer.home_id' } } });
    const conn = postgresConnector(sys);
    const before = await everything(db);
    try {
      assertNonRetryable(await failure(conn.erase(taskFor(sys, alice))), 'shop-db', 'public.customer lacks column home_id');
      assert.deepEqual(await everything(db), before);
      await assert.rejects(conn.check(), /public\.customer lacks column home_id/);
    } finally {
      await conn.close();
    }
  });

  it('catalog rules: unknown entries, names used twice, self references and cycles are refused at load, naming them', () => {
    const parse = (tables: unknown[]) => postgresSystemSchema.safeParse({ id: 's', kind: 'postgres', connection: 'postgres://h/db', tables });
    const messages = (tables: unknown[]) => {
      const r = parse(tables);
      return r.success ? [] : r.error.issues.map((i) => i.message);
    };
    const root = { table: 'customer', match: { column: 'email', identifier: 'email' }, action: 'delete' };
    assert.match(messages([root, { table: 'orders', match: { column: 'customer_id', references: 'client.id' } , action: 'delete' }]).join(), /no table entry is named "client"/);
    assert.match(messages([root, root]).join(), /table entry name "customer" is already used/);
    assert.match(messages([root, { table: 'x', match: { column: 'a', references: 'x.b' }, action: 'delete' }]).join(), /cannot reference itself/);
    assert.match(
      messages([root, { table: 'a', match: [{ column: 'c', references: 'customer.id' }, { column: 'b_id', references: 'b.id' }], action: 'delete' }, { table: 'b', match: { column: 'a_id', references: 'a.id' }, action: 'delete' }]).join(),
      /references form a cycle: a → b → a/,
    );
    assert.match(messages([{ table: 'a', match: { column: 'x', references: 'b.id' }, action: 'delete' }, { table: 'b', match: { column: 'y', references: 'a.id' }, action: 'delete' }]).join(), /no table matches an identifier/);
    assert.ok(parse([root, { table: 'orders', match: { column: 'customer_id', references: 'customer.id' }, action: 'delete' }]).success);
  });
});
