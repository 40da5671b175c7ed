/**
 * PostgreSQL connector: per table, find the subject's rows by one column (its text form equal to the
 * identifier value) and delete or anonymize them in primary-key batches, one short transaction per batch,
 * tables in the catalog's order (foreign-key children first). Before touching anything it makes sure every
 * declared key is unique (./shape.ts). Table and column names come only from the catalog and are quoted;
 * values are always query parameters. Progress is heartbeated after every batch and a retried attempt
 * resumes from it.
 */
import pg from 'pg';
import { z } from 'zod';
import { postgresTableSchema, type PostgresSystem, type PostgresTable } from './schema';
import { batchStatement, countStatement, label, type Op } from './sql';
import { classify } from './errors';
import { tableShapes } from './shape';
import { identifierValue, type EraseResult, type SystemTask, type VerifyResult } from '../../domain';
import { type CheckableConnector, attemptNumber, elapsed, evidenceFor, heartbeat, nonRetryable, resumeFrom, throwIfCancelled } from '../connector-kit';

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

  const shapes = tableShapes(system.id, getPool);

  /**
   * The identifier value to look for in each table, or undefined where the subject has no such identifier.
   * Refuses, before anything is changed, when a table's declared key is not unique or a number column could
   * only match the value under another spelling.
   */
  async function valuesFor(task: SystemTask, tables: PostgresTable[]): Promise<Array<string | undefined>> {
    const shape = await shapes.require(tables);
    return Promise.all(tables.map(async (t, i) => {
      const value = identifierValue(task.subject, t.match.identifier);
      if (value === undefined || value === '') return undefined;
      await shapes.requireExact(t, shape[i], value);
      return value;
    }));
  }

  async function count(t: PostgresTable, value: string | undefined): Promise<number> {
    if (value === undefined) return 0;
    try {
      const stmt = countStatement(t, value);
      const { rows } = await getPool().query<{ n: number }>(stmt.text, stmt.params);
      return rows[0].n;
    } catch (err) {
      throw classify(system.id, err, t);
    }
  }

  /**
   * Runs one operation over every table, batch by batch, resuming from the last heartbeat of the same
   * operation. Each batch is a single statement, hence its own short transaction.
   */
  async function run(op: Op, tables: PostgresTable[], values: Array<string | undefined>, baseline?: () => Promise<number[]>): Promise<{ progress: PgProgress; resumed: boolean }> {
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
      const value = values[progress.table];
      if (value === undefined) continue;
      if (op !== 'erase' && !t.softDeleteColumn) continue;
      for (;;) {
        throwIfCancelled();
        const withCursor = progress.cursor !== null;
        const stmt = batchStatement(t, op, { value, cursor: progress.cursor, limit: t.batchSize, hmacKey: system.hmacKey });
        let n: number;
        let seen: number;
        let last: string | null;
        try {
          const { rows } = await getPool().query<{ n: number; seen: number; last: string | null }>(stmt.text, stmt.params);
          ({ n, seen, last } = rows[0]);
        } catch (err) {
          throw classify(system.id, err, t);
        }
        progress.done[progress.table] += n;
        progress.batches++;
        opts.onBatch?.({ table: label(t), rows: n });
        // A full batch may have more behind it, even if not every locked row was changed.
        if (seen === t.batchSize) {
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
        sql: batchStatement(t, op, { value: '', cursor: '', limit: t.batchSize, hmacKey: system.hmacKey ? 'k' : undefined }).text.replace(/\$\d+/g, '?'),
      })),
    });

  return {
    async erase(task): Promise<EraseResult> {
      const started = Date.now();
      const tables = tablesFor(task);
      const values = await valuesFor(task, tables);
      const { progress, resumed } = await run('erase', tables, values, () => Promise.all(tables.map((t, i) => count(t, values[i]))));
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
      const tables = tablesFor(task);
      const values = await valuesFor(task, tables);
      let remaining = 0;
      for (const [i, t] of tables.entries()) remaining += await count(t, values[i]);
      return { remaining };
    },

    async softDelete(task) {
      const tables = tablesFor(task);
      const { progress } = await run('softDelete', tables, await valuesFor(task, tables));
      return { affected: progress.done.reduce((a, b) => a + b, 0) };
    },

    async restore(task) {
      const tables = tablesFor(task);
      const { progress } = await run('restore', tables, await valuesFor(task, tables));
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
          else missing.push(...(await shapes.problems([t])));
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
