/** The ledger schema: versioned migrations, and a database that refuses to rewrite history. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPool } from '../../src/ledger/db';
import { defaultMigrationsDir, migrate, MigrationError, readMigrations } from '../../src/ledger/migrate';
import { appendEvent, listEvents } from '../../src/ledger/events';
import { generateSigningKey } from '../../src/certificate';
import { registerSigningKey } from '../../src/certificate/issuer';
import { useLedgerDatabase } from '../harness/ledger';

/** A copy of the engine's migrations plus extra files, as other parts of the engine add 010+ and 020+. */
function migrationsWith(extra: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-migrations-'));
  for (const f of fs.readdirSync(defaultMigrationsDir())) fs.copyFileSync(path.join(defaultMigrationsDir(), f), path.join(dir, f));
  for (const [name, sql] of Object.entries(extra)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}

const refused = (code = '42501') => (err: unknown) => (err as { code?: string }).code === code;

describe('ledger database', function () {
  const ledger = useLedgerDatabase();

  describe('migrations', () => {
    it('creates the requests, events, certificates and signing_keys tables, recording each version', async () => {
      const { pool } = await ledger.fresh();
      const { rows } = await pool.query<{ column_name: string; data_type: string; is_nullable: string }>(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'requests' ORDER BY ordinal_position",
      );
      const columns = Object.fromEntries(rows.map((r) => [r.column_name, `${r.data_type}${r.is_nullable === 'YES' ? ' null' : ''}`]));
      assert.deepEqual(
        { ...columns, created_at: undefined },
        {
          request_id: 'text',
          workflow_id: 'text',
          subject_ref: 'text',
          jurisdiction: 'text',
          status: 'text',
          body_hash: 'text',
          received_at: 'timestamp with time zone',
          deadline: 'timestamp with time zone',
          workflow_started_at: 'timestamp with time zone null',
          completed_at: 'timestamp with time zone null',
          certificate_id: 'text null',
          pending_input: 'jsonb null',
          relay_claimed_until: 'timestamp with time zone null',
          created_at: undefined,
        },
      );
      const tables = (await pool.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).rows.map((r) => r.tablename);
      for (const t of ['requests', 'events', 'certificates', 'signing_keys', 'schema_migrations']) assert.ok(tables.includes(t), t);
      const versions = (await pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
      assert.deepEqual(versions, readMigrations().map((m) => m.version));
      assert.deepEqual(versions.slice(0, 3), [1, 2, 3]);
    });

    it('applies nothing the second time, and each version once when five processes start together', async () => {
      const db = await ledger.fresh({ migrate: false });
      const pools = Array.from({ length: 5 }, () => createPool({ connectionString: db.url, max: 1 }));
      try {
        const results = await Promise.all(pools.map((p) => migrate(p)));
        const applied = results.flatMap((r) => r.applied);
        assert.deepEqual(applied.sort((a, b) => a - b), readMigrations().map((m) => m.version));
        assert.equal(results.filter((r) => r.applied.length > 0).length, 1, 'one process did all the work');
        assert.deepEqual((await migrate(db.pool)).applied, []);
      } finally {
        await Promise.all(pools.map((p) => p.end()));
      }
    });

    it("picks up other parts' migrations in number order, and applies none when one of them fails", async () => {
      const db = await ledger.fresh({ migrate: false });
      const good = migrationsWith({ '900_fixture_outbox.sql': 'CREATE TABLE outbox (id bigserial PRIMARY KEY, request_id text REFERENCES requests);' });
      const bad = migrationsWith({
        '900_fixture_outbox.sql': 'CREATE TABLE outbox (id bigserial PRIMARY KEY);',
        '901_broken.sql': 'CREATE TABLE nope (;',
      });
      await assert.rejects(migrate(db.pool, { dir: bad }), (err: unknown) => err instanceof MigrationError && /901_broken\.sql failed/.test(err.message));
      const { rowCount } = await db.pool.query("SELECT 1 FROM pg_tables WHERE tablename IN ('requests', 'outbox', 'schema_migrations')");
      assert.equal(rowCount, 0, 'rolled back as one transaction');

      const result = await migrate(db.pool, { dir: good });
      assert.deepEqual(result.applied, readMigrations(good).map((m) => m.version));
      assert.ok(result.applied.indexOf(10) > result.applied.indexOf(3));
    });

    it('refuses a migration edited after it was applied, and badly named files', async () => {
      const db = await ledger.fresh({ migrate: false });
      const dir = migrationsWith({ '900_fixture_outbox.sql': 'CREATE TABLE outbox (id bigserial PRIMARY KEY);' });
      await migrate(db.pool, { dir });
      fs.appendFileSync(path.join(dir, '900_fixture_outbox.sql'), '\nALTER TABLE outbox ADD COLUMN x int;');
      await assert.rejects(migrate(db.pool, { dir }), /900_fixture_outbox\.sql changed after it was applied/);

      assert.throws(() => readMigrations(migrationsWith({ '10_short.sql': '' })), /must be named NNN_lower_snake_name\.sql/);
      assert.throws(() => readMigrations(migrationsWith({ '001_again.sql': '' })), /share version 001/);
    });
  });

  describe('append-only tables', () => {
    it('refuses UPDATE, DELETE and TRUNCATE of certificates', async () => {
      const { pool } = await ledger.fresh();
      await pool.query(
        `INSERT INTO certificates (sequence, certificate_id, request_id, certificate, hash, previous_hash, key_id, issued_at)
         VALUES (1, 'cert_1', 'req-1', '{}', $1, NULL, 'k', now())`,
        ['0'.repeat(64)],
      );
      await assert.rejects(pool.query("UPDATE certificates SET certificate = '{\"forged\":true}'"), refused());
      await assert.rejects(pool.query('DELETE FROM certificates'), refused());
      await assert.rejects(pool.query('TRUNCATE certificates'), refused());
      await assert.rejects(pool.query('UPDATE certificates SET sequence = 2'), /certificates are append-only: UPDATE on certificates is refused/);
      assert.equal((await pool.query('SELECT 1 FROM certificates')).rowCount, 1);
    });

    it('refuses a second certificate claiming the same predecessor or place (no fork, even without the lock)', async () => {
      const { pool } = await ledger.fresh();
      const insert = (seq: number, id: string, hash: string, prev: string | null) =>
        pool.query(
          `INSERT INTO certificates (sequence, certificate_id, request_id, certificate, hash, previous_hash, key_id, issued_at)
           VALUES ($1, $2, $2, '{}', $3, $4, 'k', now())`,
          [seq, id, hash, prev],
        );
      await insert(1, 'a', '1'.repeat(64), null);
      await insert(2, 'b', '2'.repeat(64), '1'.repeat(64));
      await assert.rejects(insert(3, 'c', '3'.repeat(64), '1'.repeat(64)), refused('23505'));
      await assert.rejects(insert(2, 'd', '4'.repeat(64), '2'.repeat(64)), refused('23505'));
      await assert.rejects(insert(3, 'e', '5'.repeat(64), null), refused('23514'));
    });

    it('keeps signing keys forever: only retired_at may change', async () => {
      const { pool } = await ledger.fresh();
      const a = generateSigningKey();
      const b = generateSigningKey();
      assert.deepEqual(await registerSigningKey(pool, a), { registered: true });
      assert.deepEqual(await registerSigningKey(pool, a), { registered: false });
      await registerSigningKey(pool, b);
      const { rows } = await pool.query<{ key_id: string; retired: boolean }>('SELECT key_id, retired_at IS NOT NULL AS retired FROM signing_keys ORDER BY created_at');
      assert.deepEqual(rows, [
        { key_id: a.keyId, retired: true },
        { key_id: b.keyId, retired: false },
      ]);
      await assert.rejects(pool.query('DELETE FROM signing_keys'), refused());
      await assert.rejects(pool.query('TRUNCATE signing_keys'), refused());
      await assert.rejects(pool.query("UPDATE signing_keys SET public_pem = 'x'"), refused());
    });
  });

  describe('audit log', () => {
    it("appends each request's events in order, with their details", async () => {
      const { pool } = await ledger.fresh();
      await appendEvent(pool, { requestId: 'req-1', type: 'request.accepted', detail: { subjectRef: 'subj_1', systems: 3 } });
      await appendEvent(pool, { requestId: 'req-2', type: 'request.accepted' });
      await appendEvent(pool, { requestId: 'req-1', type: 'system.erased', detail: { system: 'crm', erased: 4 } });
      const trail = await listEvents(pool, 'req-1');
      assert.deepEqual(trail.map((e) => [e.type, e.detail]), [
        ['request.accepted', { subjectRef: 'subj_1', systems: 3 }],
        ['system.erased', { system: 'crm', erased: 4 }],
      ]);
      assert.ok(trail.every((e) => !Number.isNaN(Date.parse(e.at))));
      assert.deepEqual((await listEvents(pool, 'req-2'))[0].detail, {});
    });
  });
});
