/**
 * PostgreSQL connector: per table, find the subject's rows by one column and delete or anonymize them in
 * primary-key batches, one short transaction per batch, tables in the catalog's order (foreign-key
 * children first). Table and column names come only from the catalog and are quoted; values are always
 * query parameters. Progress is heartbeated after every batch and a retried attempt resumes from it.
 */
import pg from 'pg';
import { z } from 'zod';
import { postgresTableSchema, type PostgresSystem, type PostgresTable } from './schema';
import { batchStatement, countStatement, label, type Op } from './sql';
import { identifierValue, type EraseResult, type SystemTask, type VerifyResult } from '../../domain';
import {
  type CheckableConnector, TransientConnectorError, attemptNumber, elapsed, evidenceFor, heartbeat, isNonRetryable, nonRetryable, resumeFrom,
  throwIfCancelled, transientNetworkCode,
} from '../connector-kit';

export { REDACTED } from './sql';

export interface PostgresConnectorOptions {
  /** Use this pool instead of creating one from `system.connection` (the connector will not close it). */
  pool?: pg.Pool;
  /** Connections in the pool the connector creates. */
  poolSize?: number;
  /** Called after each committed batch (tests use it to observe batching). */
  onBatch?: (b: { table: string; rows: number }) => void;
}

/** What a batch loop heartbeats: enough to resume at the same table and key. */
interface PgProgress {
  op: Op;
  /** Index of the table being worked on. */
  table: number;
  /** Last primary key done in the current pass (text form), or null at the start of a pass. */
  cursor: string | null;
  /** Rows affected so far, per table. */
  done: number[];
  /** Rows that matched each table when the operation first started (erase only). */
  baseline?: number[];
  batches: number;
}

/** SQLSTATE classes and codes that retrying cannot fix, with what to tell the operator. */
function classify(systemId: string, err: unknown, table?: PostgresTable): Error {
  if (isNonRetryable(err) || err instanceof TransientConnectorError) return err as Error;
  const code = (err as { code?: unknown }).code;
  const where = table ? ` (table ${label(table)})` : '';
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    // PostgreSQL's own messages can quote values (e.g. "invalid input syntax: <the e-mail>"): never pass them on.
    switch (code) {
      case '28P01':
      case '28000':
        return nonRetryable(systemId, `authentication to PostgreSQL failed (SQLSTATE ${code}): check the connection credentials`);
      case '3D000':
        return nonRetryable(systemId, 'the database in the connection URL does not exist (SQLSTATE 3D000)');
      case '3F000':
        return nonRetryable(systemId, `schema does not exist${where} (SQLSTATE 3F000)`);
      case '42P01':
        return nonRetryable(systemId, `table does not exist${where} (SQLSTATE 42P01)`);
      case '42703':
        return nonRetryable(systemId, `a column named in the catalog does not exist${where} (SQLSTATE 42703)`);
      case '42501':
        return nonRetryable(systemId, `permission denied${where} (SQLSTATE 42501)`);
      case '23503':
        return nonRetryable(systemId, `rows elsewhere still reference this table${where}: list the referencing table before it in the catalog (SQLSTATE 23503)`);
      case '42883':
      case '42804':
        return nonRetryable(systemId, `a column's type does not fit its mask or match${where} (SQLSTATE ${code})`);
    }
    if (code.startsWith('22')) return nonRetryable(systemId, `a value does not fit its column${where} (SQLSTATE ${code}); check the match column's type and the masks`);
    if (code.startsWith('42')) return nonRetryable(systemId, `the catalog does not match the database${where} (SQLSTATE ${code})`);
    // 08 connection, 40 serialization/deadlock, 53 resources, 55P03 lock timeout, 57 cancel/shutdown: transient.
    return new TransientConnectorError(systemId, `PostgreSQL error SQLSTATE ${code}${where}`);
  }
  const net = transientNetworkCode(err);
  if (net) return new TransientConnectorError(systemId, `cannot reach PostgreSQL (${net})`);
  const message = err instanceof Error ? err.message : String(err);
  if (/timeout/i.test(message)) return new TransientConnectorError(systemId, 'timed out talking to PostgreSQL');
  return new TransientConnectorError(systemId, `PostgreSQL call failed (${(err as Error)?.name ?? 'error'})`);
}

const tablesOf = z.array(postgresTableSchema);

/**
 * Builds the connector for one PostgreSQL system. The pool is created on first use.
 * @example const c = postgresConnector(catalogEntry); await c.erase(task); await c.close();
 */
export function postgresConnector(system: PostgresSystem, opts: PostgresConnectorOptions = {}): CheckableConnector {
  let pool = opts.pool;
  const ownsPool = !pool;
  const getPool = () => {
    if (!pool) {
      pool = new pg.Pool({
        connectionString: system.connection,
        max: opts.poolSize ?? 4,
        connectionTimeoutMillis: 10_000,
        idleTimeoutMillis: 30_000,
        lock_timeout: system.lockTimeoutMs,
        statement_timeout: system.statementTimeoutMs,
        application_name: 'erasure-engine',
      });
      // An idle connection dropped by the server must not crash the worker; the next query reconnects.
      pool.on('error', () => undefined);
    }
    return pool;
  };

  /**
   * The tables the request's plan snapshot names (what to erase), validated again at the edge by the
   * table schema (which also refuses an anonymize that leaves the match column unmasked).
   */
  const tablesFor = (task: SystemTask): PostgresTable[] => {
    const parsed = tablesOf.safeParse(task.system.spec.tables);
    if (!parsed.success) throw nonRetryable(system.id, 'the plan snapshot has no valid table list');
    for (const t of parsed.data) {
      // The plan was frozen at intake; the worker's catalog may have lost its hmacKey since.
      const hmac = t.columns.some((c) => typeof c !== 'string' && c.mask.strategy === 'hmac');
      if (hmac && !system.hmacKey) throw nonRetryable(system.id, `table ${label(t)} uses the hmac mask but the worker's catalog has no hmacKey`);
    }
    return parsed.data;
  };

  async function count(t: PostgresTable, value: string): Promise<number> {
    try {
      const { rows } = await getPool().query<{ n: number }>(countStatement(t), [value]);
      return rows[0].n;
    } catch (err) {
      throw classify(system.id, err, t);
    }
  }

  /**
   * Runs one operation over every table, batch by batch, resuming from the last heartbeat of the same
   * operation. Each batch is a single statement, hence its own short transaction.
   */
  async function run(task: SystemTask, op: Op, tables: PostgresTable[], baseline?: () => Promise<number[]>): Promise<{ progress: PgProgress; resumed: boolean }> {
    const previous = resumeFrom<PgProgress>(op);
    const progress: PgProgress = previous
      ? { ...previous, done: [...previous.done] }
      : { op, table: 0, cursor: null, done: tables.map(() => 0), batches: 0 };
    if (!progress.baseline && baseline) {
      progress.baseline = await baseline();
      heartbeat(progress);
    }
    for (; progress.table < tables.length; progress.table++, progress.cursor = null) {
      const t = tables[progress.table];
      const value = identifierValue(task.subject, t.match.identifier);
      if (value === undefined || value === '') continue;
      if (op !== 'erase' && !t.softDeleteColumn) continue;
      for (;;) {
        throwIfCancelled();
        const withCursor = progress.cursor !== null;
        const stmt = batchStatement(t, op, withCursor, t.batchSize, system.hmacKey);
        let n: number;
        let last: string | null;
        try {
          const { rows } = await getPool().query<{ n: number; last: string | null }>(stmt.text, [value, ...(withCursor ? [progress.cursor] : []), ...stmt.params]);
          ({ n, last } = rows[0]);
        } catch (err) {
          throw classify(system.id, err, t);
        }
        progress.done[progress.table] += n;
        progress.batches++;
        opts.onBatch?.({ table: label(t), rows: n });
        if (n === t.batchSize) {
          progress.cursor = last;
          heartbeat(progress);
          continue;
        }
        // A short batch ends a pass. A pass that began mid-table (resumed, or past rows inserted behind the
        // cursor) is followed by one from the start; a short batch from the start means nothing is left.
        if (!withCursor) break;
        progress.cursor = null;
        heartbeat(progress);
      }
      heartbeat({ ...progress, table: progress.table + 1, cursor: null });
    }
    return { progress, resumed: previous !== undefined };
  }

  const evidence = (task: SystemTask, op: Op, tables: PostgresTable[]) =>
    evidenceFor(system, task, {
      op,
      statements: tables.map((t) => ({
        table: label(t),
        identifier: t.match.identifier,
        // The statement text with placeholders: names from the catalog, no values.
        sql: batchStatement(t, op, true, t.batchSize, system.hmacKey ? 'k' : undefined).text.replace(/\$\d+/g, '?'),
      })),
    });

  return {
    async erase(task): Promise<EraseResult> {
      const started = Date.now();
      const tables = tablesFor(task);
      const { progress, resumed } = await run(task, 'erase', tables, () =>
        Promise.all(tables.map((t) => {
          const value = identifierValue(task.subject, t.match.identifier);
          return value ? count(t, value) : Promise.resolve(0);
        })),
      );
      // Every row that matched at the start is gone once the loop ends; batches observed since the last
      // heartbeat before a crash may be missing from `done`, so the baseline is the floor.
      const erasedPerTable = tables.map((_, i) => Math.max(progress.done[i], progress.baseline?.[i] ?? 0));
      const erased = erasedPerTable.reduce((a, b) => a + b, 0);
      const actions = new Set(tables.map((t) => t.action));
      const details: Record<string, number> = { durationMs: elapsed(started), batches: progress.batches, attempt: attemptNumber(), resumed: resumed ? 1 : 0 };
      tables.forEach((t, i) => (details[`rows:${label(t)}`] = (details[`rows:${label(t)}`] ?? 0) + erasedPerTable[i]));
      return {
        action: actions.size === 1 ? [...actions][0] : 'mixed',
        found: erased,
        erased,
        evidenceHash: evidence(task, 'erase', tables),
        details,
      };
    },

    async verify(task): Promise<VerifyResult> {
      let remaining = 0;
      for (const t of tablesFor(task)) {
        const value = identifierValue(task.subject, t.match.identifier);
        if (value) remaining += await count(t, value);
      }
      return { remaining };
    },

    async softDelete(task) {
      const { progress } = await run(task, 'softDelete', tablesFor(task));
      return { affected: progress.done.reduce((a, b) => a + b, 0) };
    },

    async restore(task) {
      const { progress } = await run(task, 'restore', tablesFor(task));
      return { restored: progress.done.reduce((a, b) => a + b, 0) };
    },

    async check() {
      const missing: string[] = [];
      try {
        for (const t of system.tables) {
          const { rows } = await getPool().query<{ column_name: string }>(
            'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
            [t.schema, t.table],
          );
          if (rows.length === 0) {
            missing.push(`table ${label(t)} not found`);
            continue;
          }
          const have = new Set(rows.map((r) => r.column_name));
          const want = [t.match.column, t.primaryKey, ...(t.softDeleteColumn ? [t.softDeleteColumn] : []), ...t.columns.map((c) => (typeof c === 'string' ? c : c.column))];
          const absent = [...new Set(want.filter((c) => !have.has(c)))];
          if (absent.length) missing.push(`${label(t)} lacks column${absent.length > 1 ? 's' : ''} ${absent.join(', ')}`);
        }
      } catch (err) {
        throw classify(system.id, err);
      }
      if (missing.length) throw nonRetryable(system.id, missing.join('; '));
      return `${system.tables.length} table${system.tables.length > 1 ? 's' : ''} with every declared column`;
    },

    async close() {
      if (ownsPool && pool) await pool.end();
      pool = undefined;
    },
  };
}
