/**
 * PostgreSQL erasure touches the subject's rows and nothing else, on schemas that invite mistakes: a
 * declared key that is not unique (or unique but nullable), a key shared through table inheritance, match
 * columns that are not text (numbers refused when spelt another way, uuid and citext compared in their type).
 * Every test compares the other subject's rows, as PostgreSQL's text form, before and after.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { postgresConnector } from '../../src/systems/postgres/connector';
import type { PostgresSystem } from '../../src/systems/postgres';
import { postgresTableSchema } from '../../src/systems/postgres/schema';
import { parameters } from '../../src/systems/postgres/sql';
import { identifierCondition } from '../../src/systems/postgres/match';
import type { IdentifierMatch } from '../../src/systems/postgres/schema';
import { freshDatabase, warmUp } from './servers';
import { alice, assertNoPii, assertNonRetryable, bob, failure, system, taskFor } from './helpers';

warmUp('postgres');

/** Every row of the named tables (children of an inheritance tree included) as text, sorted. */
async function rowsOf(db: pg.Client, ...tables: string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of tables) {
    const { rows } = await db.query<{ r: string }>(`SELECT tableoid::regclass::text || ' ' || t::text AS r FROM ${table} t ORDER BY 1`);
    out[table] = rows.map((r) => r.r);
  }
  return out;
}

/** The rows whose text form mentions `needle` (another subject's rows). */
const mentioning = (all: Record<string, string[]>, needle: string) =>
  Object.fromEntries(Object.entries(all).map(([t, rows]) => [t, rows.filter((r) => r.includes(needle))]));

const entry = (url: string, tables: unknown[]): PostgresSystem => system({ id: 'exact-db', kind: 'postgres', connection: url, tables });

describe('PostgreSQL connector: never another subject\'s rows (real server)', function () {
  let db: pg.Client;
  let url: string;

  before(async function () {
    ({ client: db, url } = await freshDatabase('connector_pg_exact'));
  });
  after(async () => db?.end());

  describe('a declared primaryKey that is not unique', () => {
    before(async () => {
      await db.query(`
        CREATE TABLE unique_keys (ref int NOT NULL, email text);
        CREATE UNIQUE INDEX ON unique_keys (ref);
        CREATE TABLE shared_keys (id int, email text, deleted_at timestamptz);
        CREATE INDEX ON shared_keys (id);
        CREATE TABLE pair_keys (id int, email text, UNIQUE (id, email));
        CREATE TABLE partly_unique (id int, email text);
        CREATE UNIQUE INDEX ON partly_unique (id) WHERE id > 100;
      `);
      for (const t of ['shared_keys', 'pair_keys', 'partly_unique']) {
        await db.query(`INSERT INTO ${t} (id, email) VALUES (1, $1), (1, $2), (2, $2)`, [alice.email, bob.email]);
      }
      await db.query('INSERT INTO unique_keys VALUES (1, $1), (2, $2)', [alice.email, bob.email]);
    });

    const tables = [
      { table: 'unique_keys', primaryKey: 'ref', match: { column: 'email', identifier: 'email' }, action: 'delete' },
      { table: 'shared_keys', match: { column: 'email', identifier: 'email' }, action: 'delete', softDeleteColumn: 'deleted_at' },
    ];

    it('is refused by erase, verify, softDelete and restore before any table is touched', async () => {
      const sys = entry(url, tables);
      const before = await rowsOf(db, 'unique_keys', 'shared_keys');
      const conn = postgresConnector(sys);
      try {
        for (const op of [() => conn.erase(taskFor(sys, alice)), () => conn.verify(taskFor(sys, alice)), () => conn.softDelete!(taskFor(sys, alice)), () => conn.restore!(taskFor(sys, alice))]) {
          const err = await failure(op());
          assertNonRetryable(err, 'exact-db', 'primaryKey id of public.shared_keys is not unique (no primary key, nor a unique index on it with NOT NULL)');
          assertNoPii(err.message, alice, bob);
        }
      } finally {
        await conn.close();
      }
      // Not even the table before it, whose key is unique, was touched.
      assert.deepEqual(await rowsOf(db, 'unique_keys', 'shared_keys'), before);
    });

    it('is reported by check(), naming each such table; a unique index that is not a primary key is enough', async () => {
      const sys = entry(url, [
        ...tables,
        { table: 'pair_keys', match: { column: 'email', identifier: 'email' }, action: 'delete' },
        { table: 'partly_unique', match: { column: 'email', identifier: 'email' }, action: 'delete' },
      ]);
      const conn = postgresConnector(sys);
      const err = await failure(conn.check());
      await conn.close();
      assertNonRetryable(err, 'exact-db', 'primaryKey id of public.shared_keys is not unique (no primary key, nor a unique index on it with NOT NULL)');
      assert.match(err.message, /primaryKey id of public\.pair_keys is not unique/);
      assert.match(err.message, /primaryKey id of public\.partly_unique is not unique/);
      assert.doesNotMatch(err.message, /unique_keys/);
      const ok = postgresConnector(entry(url, [tables[0]]));
      assert.match(await ok.check(), /1 table with every declared column/);
      await ok.close();
    });
    it('asks once per connector about a key that is unique, and again about one that was not', async () => {
      await db.query('CREATE TABLE late_keys (id int, email text)');
      await db.query('INSERT INTO late_keys VALUES (1, $1), (2, $1), (3, $1), (4, $2)', [alice.email, bob.email]);
      const sys = entry(url, [{ table: 'late_keys', match: { column: 'email', identifier: 'email' }, action: 'delete', batchSize: 1 }]);
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      const statements: string[] = [];
      const query = pool.query.bind(pool) as (text: string, params: unknown[]) => Promise<unknown>;
      (pool as unknown as { query: typeof query }).query = (text, params) => (statements.push(text), query(text, params));
      const shapeQueries = () => statements.filter((q) => q.includes('pg_index')).length;
      const conn = postgresConnector(sys, { pool });
      try {
        assertNonRetryable(await failure(conn.erase(taskFor(sys, alice))), 'exact-db', 'primaryKey id of public.late_keys is not unique');
        await db.query('ALTER TABLE late_keys ADD PRIMARY KEY (id)');
        assert.equal((await conn.erase(taskFor(sys, alice))).erased, 3);
        assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 0 });
        assert.equal(shapeQueries(), 2, 'the refusal, then once for the unique key (not per batch or call)');
        assert.deepEqual((await db.query('SELECT id FROM late_keys')).rows, [{ id: 4 }]);
      } finally {
        await conn.close();
        await pool.end();
      }
    });
  });

  describe('a key shared with another subject\'s row (table inheritance: the parent\'s key does not cover its children)', () => {
    before(async () => {
      await db.query(`
        CREATE TABLE members (id int PRIMARY KEY, email text, name text, deleted_at timestamptz);
        CREATE TABLE former_members () INHERITS (members);
        CREATE TABLE profiles (id int PRIMARY KEY, email text, bio text);
        CREATE TABLE old_profiles () INHERITS (profiles);
      `);
      await db.query(`INSERT INTO members VALUES (1, $1, 'Alice', NULL), (2, $1, 'Alice 2', NULL)`, [alice.email]);
      await db.query(`INSERT INTO former_members VALUES (1, $1, 'Bob', NULL), (2, $1, 'Bob 2', NULL)`, [bob.email]);
      await db.query(`INSERT INTO profiles VALUES (1, $1, 'about alice')`, [alice.email]);
      await db.query(`INSERT INTO old_profiles VALUES (1, $1, 'about bob')`, [bob.email]);
    });

    it('soft-deletes, restores, deletes and anonymizes only the rows that match the subject', async () => {
      const sys = entry(url, [
        { table: 'members', match: { column: 'email', identifier: 'email' }, action: 'delete', softDeleteColumn: 'deleted_at', batchSize: 1 },
        { table: 'profiles', match: { column: 'email', identifier: 'email' }, action: 'anonymize', columns: ['email', 'bio'] },
      ]);
      const bobs = async () => mentioning(await rowsOf(db, 'members', 'profiles'), bob.email!);
      const bobBefore = await bobs();
      assert.deepEqual([bobBefore.members.length, bobBefore.profiles.length], [2, 1]);
      const conn = postgresConnector(sys);
      try {
        assert.deepEqual(await conn.softDelete!(taskFor(sys, alice)), { affected: 2 });
        assert.deepEqual(await bobs(), bobBefore);
        assert.deepEqual(await conn.restore!(taskFor(sys, alice)), { restored: 2 });
        assert.deepEqual(await bobs(), bobBefore);
        const r = await conn.erase(taskFor(sys, alice));
        assert.equal(r.erased, 3);
        assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 0 });
        assert.deepEqual(await bobs(), bobBefore);
        const { rows } = await db.query('SELECT * FROM ONLY profiles');
        assert.deepEqual(rows, [{ id: 1, email: '[redacted]', bio: '[redacted]' }]);
      } finally {
        await conn.close();
      }
    });
  });

  describe('a match column that is not text: compared in its own type, other spellings of a number refused', () => {
    before(async () => {
      await db.query(`
        CREATE TABLE accounts (id int PRIMARY KEY, user_id int, note text);
        CREATE INDEX ON accounts (user_id);
        INSERT INTO accounts VALUES (1, 42, 'of 42'), (2, 42, 'of 42 again'), (3, 7, 'of 7');
        CREATE TABLE ledger (id int PRIMARY KEY, ref numeric, note text);
        INSERT INTO ledger VALUES (1, 42.0, 'of 42.0'), (2, 42.00, 'of 42.00');
      `);
    });

    it('keeps the match column\'s index usable, text or not', async () => {
      await db.query('CREATE TABLE emails (id int PRIMARY KEY, email varchar(200), note text); CREATE INDEX ON emails (email)');
      await db.query('ANALYZE accounts; ANALYZE emails');
      const plans: string[] = [];
      await db.query('SET enable_seqscan = off');
      try {
        for (const [table, column, value] of [['accounts', 'user_id', '42'], ['emails', 'email', 'a@example.com']]) {
          const t = postgresTableSchema.parse({ table, match: { column, identifier: 'userId' }, action: 'delete' });
          // The count has no ORDER BY that could make the planner prefer the primary key's index instead.
          const { params, param } = parameters();
          const cond = identifierCondition({ match: t.match as IdentifierMatch, values: [value], bytewise: false }, 't', param);
          const { rows } = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT count(*) FROM public.${table} t WHERE ${cond}`, params);
          plans.push(rows.map((r) => r['QUERY PLAN']).join('\n'));
        }
      } finally {
        await db.query('RESET enable_seqscan');
      }
      for (const plan of plans) assert.match(plan, /Index (Only )?Scan using (accounts_user_id_idx|emails_email_idx)|Bitmap Index Scan on (accounts_user_id_idx|emails_email_idx)/, plan);
    });

    it('refuses another spelling of a number ("042", " 42", "+42"), never matching it, and changes nothing', async () => {
      const sys = entry(url, [{ table: 'accounts', match: { column: 'user_id', identifier: 'userId' }, action: 'delete' }]);
      const before = await rowsOf(db, 'accounts');
      const conn = postgresConnector(sys);
      try {
        for (const userId of ['042', ' 42', '+42', '42 ']) {
          for (const op of [() => conn.verify(taskFor(sys, { userId })), () => conn.erase(taskFor(sys, { userId }))]) {
            const err = await failure(op());
            assertNonRetryable(err, 'exact-db', 'public.accounts.user_id holds numbers');
            assert.ok(!err.message.includes(userId.trim()), 'the value is not quoted');
          }
        }
        assert.deepEqual(await rowsOf(db, 'accounts'), before);
      } finally {
        await conn.close();
      }
    });

    it('refuses a value the column type cannot hold ("abc", out of range) as permanent, never as "nothing found"', async () => {
      const sys = entry(url, [{ table: 'accounts', match: { column: 'user_id', identifier: 'userId' }, action: 'delete' }]);
      const before = await rowsOf(db, 'accounts');
      const conn = postgresConnector(sys);
      try {
        for (const userId of ['abc', '99999999999', '4.2']) {
          assertNonRetryable(await failure(conn.verify(taskFor(sys, { userId }))), 'exact-db', 'public.accounts');
          assertNonRetryable(await failure(conn.erase(taskFor(sys, { userId }))), 'exact-db', 'public.accounts');
        }
        assert.deepEqual(await rowsOf(db, 'accounts'), before);
      } finally {
        await conn.close();
      }
    });

    it('erases by value in the column\'s own type: the number 42 however it is stored, a uuid in either case, a citext in any case', async () => {
      await db.query(`
        CREATE EXTENSION IF NOT EXISTS citext;
        CREATE TABLE devices (id int PRIMARY KEY, owner uuid, note text);
        INSERT INTO devices VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'theirs'), (2, 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'another');
        CREATE TABLE contacts (id int PRIMARY KEY, email citext, note text);
        INSERT INTO contacts VALUES (1, 'Jane.Doe@Example.com', 'hers'), (2, 'jane.doe@example.com.evil', 'not hers');
      `);
      const sys = entry(url, [
        { table: 'accounts', match: { column: 'user_id', identifier: 'userId' }, action: 'delete' },
        { table: 'ledger', match: { column: 'ref', identifier: 'userId' }, action: 'delete' },
      ]);
      const conn = postgresConnector(sys);
      const byDevice = entry(url, [{ table: 'devices', match: { column: 'owner', identifier: 'custom.device' }, action: 'delete' }]);
      const devices = postgresConnector(byDevice);
      const byEmail = entry(url, [{ table: 'contacts', match: { column: 'email', identifier: 'email' }, action: 'delete' }]);
      const contacts = postgresConnector(byEmail);
      try {
        const r = await conn.erase(taskFor(sys, { userId: '42' }));
        assert.equal(r.erased, 4, 'two accounts and the ledger rows holding 42.0 and 42.00');
        assert.deepEqual(await rowsOf(db, 'accounts', 'ledger'), { accounts: ['accounts (3,7,"of 7")'], ledger: [] });
        assert.deepEqual(await conn.verify(taskFor(sys, { userId: '42' })), { remaining: 0 });

        const upper = { custom: { device: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' } };
        assert.equal((await devices.erase(taskFor(byDevice, upper))).erased, 1);
        assert.deepEqual(await rowsOf(db, 'devices'), { devices: ['devices (2,b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12,another)'] });

        assert.equal((await contacts.erase(taskFor(byEmail, { email: 'jane.doe@example.com' }))).erased, 1);
        assert.deepEqual(await rowsOf(db, 'contacts'), { contacts: ['contacts (2,jane.doe@example.com.evil,"not hers")'] });
        assert.deepEqual(await contacts.verify(taskFor(byEmail, { email: 'jane.doe@example.com' })), { remaining: 0 });
      } finally {
        await conn.close();
        await devices.close();
        await contacts.close();
      }
    });

    it('refuses a key whose unique index allows NULL (many rows can hold it; no batch could move past them)', async () => {
      await db.query('CREATE TABLE nullable_keys (id int UNIQUE, email text)');
      await db.query('INSERT INTO nullable_keys VALUES (NULL, $1), (NULL, $1), (1, $2)', [alice.email, bob.email]);
      const before = await rowsOf(db, 'nullable_keys');
      const sys = entry(url, [{ table: 'nullable_keys', match: { column: 'email', identifier: 'email' }, action: 'delete' }]);
      const conn = postgresConnector(sys);
      try {
        assertNonRetryable(await failure(conn.erase(taskFor(sys, alice))), 'exact-db', 'primaryKey id of public.nullable_keys is not unique');
        assert.deepEqual(await rowsOf(db, 'nullable_keys'), before);
      } finally {
        await conn.close();
      }
    });
  });
});
