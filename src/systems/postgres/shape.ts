/**
 * What the PostgreSQL connector checks about a table before it touches it: that the declared primary key
 * really is unique (batches lock and change rows by key; a key value that names several rows would carry
 * another subject's rows along), and whether the subject's identifier value can be one of the match
 * column's values at all (a user id "abc" has no rows in an integer column; parsing it would fail).
 */
import type pg from 'pg';
import type { PostgresTable } from './schema';
import { fitStatement, label, shapeStatement } from './sql';
import { classify } from './errors';
import { nonRetryable } from '../connector-kit';

/** What the system catalogs say about one table. */
export interface TableShape {
  /** Whether the match column is a plain string type, whose values every identifier value can be. */
  matchIsText: boolean;
}

interface ShapeRow {
  found: boolean;
  key_found: boolean;
  key_unique: boolean;
  match_is_text: boolean;
}

/** Why the erasure must not touch `t`, or undefined. Never holds identifier values. */
function problemOf(t: PostgresTable, row: ShapeRow): string | undefined {
  if (!row.found) return `table ${label(t)} not found`;
  if (!row.key_found) return `primaryKey ${t.primaryKey} of ${label(t)} does not exist`;
  if (!row.key_unique) return `primaryKey ${t.primaryKey} of ${label(t)} is not unique (no primary key or unique index on it)`;
  return undefined;
}

/**
 * Reads table shapes for one connector. A shape whose key is unique is kept for the connector's lifetime, so
 * batches do not ask again; a refused table is asked about again on the next call, so an operator who adds
 * the index does not have to restart the worker.
 * @example const shapes = tableShapes('shop-db', getPool); const [s] = await shapes.require(tables);
 */
export function tableShapes(systemId: string, pool: () => pg.Pool) {
  const known = new Map<string, TableShape>();
  const keyOf = (t: PostgresTable) => JSON.stringify([t.schema, t.table, t.primaryKey, t.match.column]);

  async function inspect(t: PostgresTable): Promise<{ shape?: TableShape; problem?: string }> {
    const cached = known.get(keyOf(t));
    if (cached) return { shape: cached };
    const stmt = shapeStatement(t);
    let row: ShapeRow;
    try {
      row = (await pool().query<ShapeRow>(stmt.text, stmt.params)).rows[0];
    } catch (err) {
      throw classify(systemId, err, t);
    }
    const problem = problemOf(t, row);
    if (problem) return { problem };
    const shape = { matchIsText: row.match_is_text };
    known.set(keyOf(t), shape);
    return { shape };
  }

  return {
    /** The problems of these tables (empty when every one is safe to erase from). */
    async problems(tables: PostgresTable[]): Promise<string[]> {
      const found = await Promise.all(tables.map(inspect));
      return found.flatMap((f) => (f.problem ? [f.problem] : []));
    },

    /** The shape of every table, or a non-retryable failure naming each table that must not be touched. */
    async require(tables: PostgresTable[]): Promise<TableShape[]> {
      const found = await Promise.all(tables.map(inspect));
      const problems = found.flatMap((f) => (f.problem ? [f.problem] : []));
      if (problems.length) throw nonRetryable(systemId, problems.join('; '));
      return found.map((f) => f.shape!);
    },

    /**
     * Whether `value` can be a value of `t`'s match column. Text columns (and `ignoreCase`, which compares
     * text) take any value; for other types PostgreSQL parses it, and a value it refuses matches nothing.
     */
    async fits(t: PostgresTable, shape: TableShape, value: string): Promise<boolean> {
      if (t.match.ignoreCase || shape.matchIsText) return true;
      const stmt = fitStatement(t, value);
      try {
        await pool().query(stmt.text, stmt.params);
        return true;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        // Class 22: invalid text representation, out of range, bad date…; 23514: a domain's CHECK.
        if (typeof code === 'string' && (code.startsWith('22') || code === '23514')) return false;
        throw classify(systemId, err, t);
      }
    },
  };
}
