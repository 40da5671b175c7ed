/**
 * A real PostgreSQL for the ledger and certificate tests: one server per test file, a fresh migrated
 * database per test. Never skipped: without the server binaries the tests fail loudly.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { startPostgres, type PostgresServer } from '../../src/dev/servers';
import { createPool } from '../../src/ledger/db';
import { migrate } from '../../src/ledger/migrate';

export interface LedgerDb {
  pool: Pool;
  url: string;
  name: string;
}

export interface LedgerServer {
  server: PostgresServer;
  /** A new database with the ledger schema applied (unless `migrate: false`). */
  freshDb(opts?: { migrate?: boolean; max?: number }): Promise<LedgerDb>;
  /** Closes every pool and stops the server. */
  stop(): Promise<void>;
}

let counter = 0;

/** Starts PostgreSQL; call in `before`, stop in `after`. */
export async function startLedgerServer(): Promise<LedgerServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-ledger-test-'));
  const server = await startPostgres({ dataDir });
  const pools: Pool[] = [];
  return {
    server,
    async freshDb(opts = {}) {
      const name = `ledger_${process.pid}_${++counter}`;
      await server.createDatabase(name);
      const url = server.urlFor(name);
      const pool = createPool({ connectionString: url, max: opts.max ?? 20 });
      pools.push(pool);
      if (opts.migrate !== false) await migrate(pool);
      return { pool, url, name };
    },
    async stop() {
      await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      await stopPostmaster(dataDir);
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Signals the postmaster itself (fast shutdown). Run as root, the server runs under `runuser`, which
 * does not pass the launcher's SIGINT on; signalling the postmaster directly stops it for certain.
 */
async function stopPostmaster(dataDir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!pid || !alive()) return;
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
}

/**
 * Runs statements as the superuser with user triggers switched off for this session only
 * (`session_replication_role = replica`): the one way a test can tamper with the append-only ledger,
 * the way an attacker holding the database's superuser would.
 */
export async function asSuperuserBypassingTriggers(pool: Pool, statements: Array<[string, unknown[]?]>): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query("SET LOCAL session_replication_role = 'replica'");
    for (const [sql, params] of statements) await c.query(sql, params);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}
