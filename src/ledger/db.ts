/** The engine's own PostgreSQL database: one pool per process, built from validated configuration. */
import { Pool, type PoolClient } from 'pg';
import type { Logger } from '../logger';

export type { Pool, PoolClient };

/** Either the pool or one client of it inside a transaction: ledger writes that must join a caller's transaction take this. */
export type Queryable = Pool | PoolClient;

export interface PoolOptions {
  /** A `postgres://` URL (the engine's `DATABASE_URL`). */
  connectionString: string;
  /** Most connections this process opens (default 10). */
  max?: number;
  /** Shown in `pg_stat_activity`, so an operator can tell the API from the worker. */
  applicationName?: string;
  /** Where idle-client errors go; without a listener `pg` would crash the process on a dropped connection. */
  logger?: Logger;
}

/**
 * Builds the connection pool for the ledger database.
 * @example const pool = createPool({ connectionString: config.DATABASE_URL, applicationName: 'erasure-worker', logger });
 */
export function createPool(opts: PoolOptions): Pool {
  const pool = new Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'erasure-engine',
  });
  // An idle client losing its connection emits on the pool; the next query gets a fresh client anyway.
  pool.on('error', (err) => opts.logger?.warn({ err: { message: err.message } }, 'idle ledger database connection failed'));
  return pool;
}

/**
 * Runs `work` on one client of the pool and gives the client back. While the client is out, a connection
 * error that arrives outside a query (the server ends the session: a restart, `pg_terminate_backend`) is
 * held instead of crashing the process as an unhandled `error` event, and a client that failed that way
 * is destroyed rather than handed to the next caller.
 * @example const rows = await withClient(pool, (c) => c.query('SELECT 1'));
 */
export async function withClient<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  try {
    return await work(client);
  } catch (err) {
    // A query that failed for want of a connection (no SQLSTATE) leaves a client nobody should reuse.
    if (!isServerError(err)) broken ??= err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/** Whether `err` is an error the PostgreSQL server sent (it carries a SQLSTATE), not a lost connection. */
function isServerError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' && /^[0-9A-Z]{5}$/.test((err as { code: string }).code);
}

/**
 * Runs `work` inside one transaction on one client: COMMIT when it resolves, ROLLBACK when it throws.
 * @example await inTransaction(pool, (c) => c.query('INSERT …'));
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

/**
 * Resolves when the database answers a trivial query (readiness checks).
 * @example await pingDatabase(pool);
 */
export async function pingDatabase(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}

/**
 * Advisory lock keys, as (class, id) pairs. The class ('ERAS' in ASCII) keeps them apart from any other
 * application sharing the database; every lock the engine takes is listed here once.
 */
export const advisoryLocks = {
  /** Held while migrations run, so two processes starting together apply each migration once. */
  migrations: [0x45524153, 1],
  /** Held while a certificate is issued, so the hash chain has exactly one head and never forks. */
  certificateChain: [0x45524153, 2],
} as const satisfies Record<string, readonly [number, number]>;
