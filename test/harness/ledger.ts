/**
 * The ledger database for a suite: `useLedgerDatabase()` inside a `describe` registers the hooks that
 * create a fresh migrated database on the process's shared PostgreSQL before the suite and close its
 * pools after it. Tests that want a database of their own ask the handle for `fresh()` ones.
 */
import type { Pool } from 'pg';
import type { PostgresServer } from '../../src/dev/servers';
import { createPool } from '../../src/ledger/db';
import { migrate } from '../../src/ledger/migrate';
import { freshDatabase, sharedPostgres } from './postgres';

export interface LedgerDb {
  pool: Pool;
  url: string;
  name: string;
}

export interface FreshDbOptions {
  /** Apply the ledger migrations (default true); false leaves an empty database. */
  migrate?: boolean;
  /** Connections of the database's pool (default 20). */
  max?: number;
}

/** What `useLedgerDatabase` returns: its fields are readable once the suite's `before` hook has run. */
export interface LedgerHandle extends LedgerDb {
  server: PostgresServer;
  /** Another new database on the same server, closed with the suite. */
  fresh(opts?: FreshDbOptions): Promise<LedgerDb>;
}

/**
 * Registers `before`/`after` hooks in the calling suite and returns the suite's ledger database.
 * @example
 * describe('ledger check', () => {
 *   const ledger = useLedgerDatabase();
 *   it('…', async () => { const { pool } = await ledger.fresh(); … });
 * });
 */
export function useLedgerDatabase(opts: FreshDbOptions = {}): LedgerHandle {
  let server: PostgresServer | undefined;
  let suiteDb: LedgerDb | undefined;
  const pools: Pool[] = [];
  // Boot the server while mocha is still loading files, so the first suite waits less for it.
  void sharedPostgres();

  const fresh = async (o: FreshDbOptions = {}): Promise<LedgerDb> => {
    if (!server) throw new Error('useLedgerDatabase: fresh() called outside the suite that registered it');
    const name = await freshDatabase(server, 'ledger');
    const url = server.urlFor(name);
    const pool = createPool({ connectionString: url, max: o.max ?? 20 });
    pools.push(pool);
    if (o.migrate !== false) await migrate(pool);
    return { pool, url, name };
  };

  before(async () => {
    server = await sharedPostgres();
    suiteDb = await fresh(opts);
  });
  after(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end().catch(() => undefined)));
    server = undefined;
    suiteDb = undefined;
  });

  const ready = (): LedgerDb => {
    if (!suiteDb) throw new Error("useLedgerDatabase: the suite's database is only there between its before and after hooks");
    return suiteDb;
  };
  return {
    get server() {
      if (!server) throw new Error("useLedgerDatabase: the server is only there between the suite's before and after hooks");
      return server;
    },
    get pool() {
      return ready().pool;
    },
    get url() {
      return ready().url;
    },
    get name() {
      return ready().name;
    },
    fresh,
  };
}

/**
 * Runs statements as the superuser with user triggers switched off for this session only
 * (`session_replication_role = replica`): the one way a test can tamper with the append-only ledger,
 * the way an attacker holding the database's superuser would.
 * @example await asSuperuserBypassingTriggers(pool, [['DELETE FROM certificates WHERE sequence = 2']]);
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
