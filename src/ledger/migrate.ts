/**
 * Versioned schema migrations, run at start-up by every process that uses the ledger database.
 *
 * Each file `NNN_name.sql` in the migrations folder is one version. Pending versions are applied in
 * number order inside one transaction that holds an advisory lock, so processes starting together apply
 * each version exactly once, and a failing migration leaves the schema as it was. Applied versions are
 * recorded in `schema_migrations` with a checksum; editing a file after it was applied is refused.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';
import { advisoryLocks, inTransaction, type Pool } from './db';

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const fileName = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/**
 * Where the migrations live: beside this module under ts-node, or back in `src/` when running compiled
 * code from `lib/` (tsc does not copy `.sql` files).
 */
export function defaultMigrationsDir(): string {
  const candidates = [path.join(__dirname, 'migrations'), path.resolve(__dirname, '..', '..', '..', 'src', 'ledger', 'migrations')];
  return candidates.find((d) => fs.existsSync(d)) ?? candidates[0];
}

/** Reads every migration file of a folder, in version order. Other files are ignored; a malformed `.sql` name is an error. */
export function readMigrations(dir: string = defaultMigrationsDir()): Migration[] {
  const seen = new Map<number, string>();
  const migrations: Migration[] = [];
  for (const file of fs.readdirSync(dir).sort()) {
    if (!file.endsWith('.sql')) continue;
    const m = fileName.exec(file);
    if (!m) throw new MigrationError(`migration file ${file} must be named NNN_lower_snake_name.sql`);
    const version = Number(m[1]);
    const clash = seen.get(version);
    if (clash) throw new MigrationError(`migrations ${clash} and ${file} share version ${m[1]}`);
    seen.set(version, file);
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    migrations.push({ version, name: m[2], file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations.sort((a, b) => a.version - b.version);
}

export interface MigrateOptions {
  /** Folder of `NNN_name.sql` files; defaults to the engine's own. */
  dir?: string;
  logger?: Logger;
}

export interface MigrateResult {
  /** Versions applied by this call, in order. */
  applied: number[];
  /** Highest version now in the database. */
  current: number;
}

/**
 * Brings the database schema up to date. Safe to call from several processes at once.
 * @example await migrate(pool, { logger }); // at start-up, before the worker or the API serves anything
 */
export async function migrate(pool: Pool, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = readMigrations(opts.dir);
  const result = await inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...advisoryLocks.migrations]);
    await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await c.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations');
    const done = new Map(rows.map((r) => [r.version, r]));
    for (const m of migrations) {
      const prior = done.get(m.version);
      if (prior && prior.checksum !== m.checksum) {
        throw new MigrationError(
          `migration ${m.file} changed after it was applied (recorded checksum ${prior.checksum.slice(0, 12)}…); add a new migration instead of editing an applied one`,
        );
      }
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      try {
        await c.query(m.sql);
      } catch (err) {
        throw new MigrationError(`migration ${m.file} failed: ${(err as Error).message}`);
      }
      await c.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      applied.push(m.version);
    }
    const current = Math.max(0, ...rows.map((r) => r.version), ...applied);
    return { applied, current };
  });
  if (result.applied.length) opts.logger?.info({ applied: result.applied, current: result.current }, 'ledger database migrated');
  else opts.logger?.debug({ current: result.current }, 'ledger database schema up to date');
  return result;
}
