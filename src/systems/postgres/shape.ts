/**
 * What the PostgreSQL connector learns from the system catalogs before it touches a table: its columns and
 * their types, whether the declared key really names one row (batches lock and change rows by key; a key
 * value that names several rows would carry another subject's rows along), which foreign keys point at it
 * (a row others still point at is shared), whether a match column holds numbers (a user id "042" would
 * equal another subject's 42) or compares under a collation that ignores case or accents.
 */
import type pg from 'pg';
import type { PostgresTable } from './schema';
import { canonicalStatement, label, type Statement } from './sql';
import { classify } from './errors';
import { nonRetryable } from '../connector-kit';
import { keyColumns, matchesOf } from './graph';

/** One column as the catalogs describe it. */
export interface ColumnShape {
  /** The column's type as SQL spells it (`integer`, `character varying(64)`), used to cast key text back. */
  type: string;
  isNumber: boolean;
  notNull: boolean;
  /** False under a nondeterministic collation (`=` may then ignore case or accents). */
  deterministic: boolean;
}

/** A single-column foreign key pointing at this table: rows of `schema.table` whose `column` holds our `target`. */
export interface ForeignKey {
  schema: string;
  table: string;
  column: string;
  target: string;
}

/** What the catalogs say about one table. */
export interface TableShape {
  columns: Map<string, ColumnShape>;
  foreignKeys: ForeignKey[];
}

interface ShapeRow {
  found: boolean;
  columns: Array<{ name: string; type: string; is_number: boolean; not_null: boolean; deterministic: boolean }> | null;
  uniques: Array<{ cols: string[]; is_primary: boolean }> | null;
  fks: Array<{ schema: string; table: string; column: string; target: string }> | null;
}

/** Columns, unique indexes (valid, not partial, key columns only) and single-column foreign keys pointing here. */
function shapeStatement(t: Pick<PostgresTable, 'schema' | 'table'>): Statement {
  const text = `
    WITH r AS (SELECT to_regclass(format('%I.%I', $1::text, $2::text)) AS oid)
    SELECT r.oid IS NOT NULL AS found,
      (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                'is_number', ty.typcategory = 'N', 'not_null', a.attnotnull,
                'deterministic', COALESCE(co.collisdeterministic, true)))
         FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid LEFT JOIN pg_collation co ON co.oid = a.attcollation
        WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
      (SELECT json_agg(json_build_object('cols', (SELECT array_agg(a.attname) FROM unnest(i.indkey[0:i.indnkeyatts - 1]) AS k(n)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n), 'is_primary', i.indisprimary))
         FROM pg_index i WHERE i.indrelid = r.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL) AS uniques,
      (SELECT json_agg(json_build_object('schema', n.nspname, 'table', c.relname, 'column', a.attname, 'target', ta.attname))
         FROM pg_constraint f JOIN pg_class c ON c.oid = f.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = f.conkey[1]
         JOIN pg_attribute ta ON ta.attrelid = f.confrelid AND ta.attnum = f.confkey[1]
        WHERE f.confrelid = r.oid AND f.contype = 'f' AND cardinality(f.conkey) = 1) AS fks
    FROM r`;
  return { text, params: [t.schema, t.table] };
}

/** Every column an entry names: key, matches, soft-delete, masks and provided identifiers. */
export function columnsNamed(t: PostgresTable): string[] {
  const cols = [
    ...keyColumns(t),
    ...matchesOf(t).map((m) => m.column),
    ...(t.softDeleteColumn ? [t.softDeleteColumn] : []),
    ...t.columns.map((c) => (typeof c === 'string' ? c : c.column)),
    ...Object.values(t.provides ?? {}),
  ];
  return [...new Set(cols)];
}

/** Why the erasure must not touch `t`, or undefined. Never holds identifier values. */
function problemOf(t: PostgresTable, row: ShapeRow, extra: readonly string[]): string | undefined {
  if (!row.found) return `table ${label(t)} not found`;
  const have = new Map((row.columns ?? []).map((c) => [c.name, c]));
  const keys = keyColumns(t);
  const keyName = keys.join(', ');
  const missingKey = keys.filter((k) => !have.has(k));
  if (missingKey.length) return `primaryKey ${keyName} of ${label(t)} does not exist`;
  const absent = [...new Set([...columnsNamed(t), ...extra])].filter((c) => !have.has(c));
  if (absent.length) return `${label(t)} lacks column${absent.length > 1 ? 's' : ''} ${absent.join(', ')}`;
  // A unique index lets many rows hold NULL: a NULL key would name several rows, and no batch could move past it.
  const unique = (row.uniques ?? []).some(
    (u) => u.cols.length === keys.length && keys.every((k) => u.cols.includes(k)) && (u.is_primary || keys.every((k) => have.get(k)!.not_null)),
  );
  if (!unique) return `primaryKey ${keyName} of ${label(t)} is not unique (no primary key, nor a unique index on ${keys.length > 1 ? 'exactly those columns' : 'it'} with NOT NULL)`;
  return undefined;
}

/**
 * Reads table shapes for one connector. A shape whose key is unique is kept for the connector's lifetime, so
 * batches do not ask again; a refused table is asked about again on the next call, so an operator who adds
 * the index does not have to restart the worker.
 * @example const shapes = tableShapes('shop-db', getPool); const [s] = await shapes.require(tables, []);
 */
export function tableShapes(systemId: string, pool: () => pg.Pool) {
  const known = new Map<string, TableShape>();

  async function inspect(t: PostgresTable, extra: readonly string[]): Promise<{ shape?: TableShape; problem?: string }> {
    const key = JSON.stringify([t.schema, t.table]);
    const stmt = shapeStatement(t);
    let row: ShapeRow;
    try {
      row = (await pool().query<ShapeRow>(stmt.text, stmt.params)).rows[0];
    } catch (err) {
      throw classify(systemId, err, t);
    }
    const problem = problemOf(t, row, extra);
    if (problem) return { problem };
    const shape: TableShape = {
      columns: new Map((row.columns ?? []).map((c) => [c.name, { type: c.type, isNumber: c.is_number, notNull: c.not_null, deterministic: c.deterministic }])),
      foreignKeys: row.fks ?? [],
    };
    known.set(key, shape);
    return { shape };
  }

  const cached = (t: PostgresTable) => known.get(JSON.stringify([t.schema, t.table]));

  return {
    /** The problems of these tables (empty when every one is safe to erase from); `extra[i]` names more columns table i must have. */
    async problems(tables: readonly PostgresTable[], extra: ReadonlyArray<readonly string[]> = []): Promise<string[]> {
      const found = await Promise.all(tables.map((t, i) => inspect(t, extra[i] ?? [])));
      return [...new Set(found.flatMap((f) => (f.problem ? [f.problem] : [])))];
    },

    /** The shape of every table, or a non-retryable failure naming each table that must not be touched. */
    async require(tables: readonly PostgresTable[], extra: ReadonlyArray<readonly string[]> = []): Promise<TableShape[]> {
      const hit = tables.map(cached);
      if (hit.every((s) => s !== undefined) && extra.every((cols, i) => cols.every((c) => hit[i]!.columns.has(c)))) return hit as TableShape[];
      const found = await Promise.all(tables.map((t, i) => inspect(t, extra[i] ?? [])));
      const problems = [...new Set(found.flatMap((f) => (f.problem ? [f.problem] : [])))];
      if (problems.length) throw nonRetryable(systemId, problems.join('; '));
      return found.map((f) => f.shape!);
    },

    /**
     * Refuses, non-retryably, an identifier value that a number column would match under another spelling
     * ("042", " 42", "+42" all equal 42): it cannot be matched exactly, and matching it anyway could erase
     * another subject's rows. A value the column's type cannot hold at all fails as the erasure would.
     * Other types compare in their own terms (`uuid`, `citext`, dates); they are probed only for a value their
     * type cannot hold, so the failure names the table before any statement runs.
     */
    async requireExact(t: PostgresTable, column: string, identifierName: string, shape: TableShape, value: string): Promise<void> {
      const stmt = canonicalStatement(t, column, value);
      let canon: string;
      try {
        canon = (await pool().query<{ canon: string }>(stmt.text, stmt.params)).rows[0].canon;
      } catch (err) {
        throw classify(systemId, err, t);
      }
      if (shape.columns.get(column)?.isNumber && canon !== value) {
        throw nonRetryable(systemId, `${label(t)}.${column} holds numbers and the subject's ${identifierName} is not written as PostgreSQL writes that number (leading zeros, spaces or a sign), so it cannot be matched exactly`);
      }
    },
  };
}
