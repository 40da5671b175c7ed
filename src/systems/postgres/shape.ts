/**
 * What the PostgreSQL connector checks about a table before it touches it: that the declared primary key
 * really is unique (batches lock and change rows by key; a key value that names several rows would carry
 * another subject's rows along), and whether a number column could match the identifier value under
 * another spelling (a user id "042" would match the integer 42 of another subject).
 */
import type pg from 'pg';
import type { PostgresTable } from './schema';
import { canonicalStatement, label, shapeStatement } from './sql';
import { classify } from './errors';
import { nonRetryable } from '../connector-kit';

/** What the system catalogs say about one table. */
export interface TableShape {
  /** Whether the match column holds numbers, where one value has many spellings. */
  matchIsNumber: boolean;
}

interface ShapeRow {
  found: boolean;
  key_found: boolean;
  key_unique: boolean;
  match_is_number: boolean;
}

/** Why the erasure must not touch `t`, or undefined. Never holds identifier values. */
function problemOf(t: PostgresTable, row: ShapeRow): string | undefined {
  if (!row.found) return `table ${label(t)} not found`;
  if (!row.key_found) return `primaryKey ${t.primaryKey} of ${label(t)} does not exist`;
  if (!row.key_unique) return `primaryKey ${t.primaryKey} of ${label(t)} is not unique (no primary key, nor a unique index on it with NOT NULL)`;
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
    const shape = { matchIsNumber: row.match_is_number };
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
     * Refuses, non-retryably, an identifier value that a number column would match under another spelling
     * ("042", " 42", "+42" all equal 42): it cannot be matched exactly, and matching it anyway could erase
     * another subject's rows. A value the column's type cannot hold at all fails as the erasure would.
     * Other types compare in their own terms (`uuid`, `citext`, dates) and are not probed.
     */
    async requireExact(t: PostgresTable, shape: TableShape, value: string): Promise<void> {
      if (t.match.ignoreCase || !shape.matchIsNumber) return;
      const stmt = canonicalStatement(t, value);
      let canon: string;
      try {
        canon = (await pool().query<{ canon: string }>(stmt.text, stmt.params)).rows[0].canon;
      } catch (err) {
        throw classify(systemId, err, t);
      }
      if (canon !== value) {
        throw nonRetryable(systemId, `${label(t)}.${t.match.column} holds numbers and the subject's ${t.match.identifier} is not written as PostgreSQL writes that number (leading zeros, spaces or a sign), so it cannot be matched exactly`);
      }
    },
  };
}
