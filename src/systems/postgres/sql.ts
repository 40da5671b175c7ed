/**
 * The SQL a PostgreSQL erasure runs: one statement per batch (select a batch of keys by primary key, then
 * delete, mask or soft-delete it), and the count that verifies. Table and column names come only from the
 * catalog and are double-quoted; values are always parameters.
 */
import { createHash } from 'node:crypto';
import type { ColumnMask, PostgresTable } from './schema';

/** What a batch does: erase (delete or anonymize, per the table), or set / clear the soft-delete column. */
export type Op = 'erase' | 'softDelete' | 'restore';

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
const relation = (t: PostgresTable) => `${quote(t.schema)}.${quote(t.table)}`;
/** `schema.table`, for messages and receipts. */
export const label = (t: PostgresTable) => `${t.schema}.${t.table}`;

/** Adds a parameter and returns its placeholder. */
type Param = (value: unknown) => string;

/**
 * The subject's rows of `t` (columns prefixed with `row`): the match column equals the identifier value,
 * compared in the column's own type (so its index serves, and a `citext` or `uuid` column compares as it
 * always does), or its text in lower case with `ignoreCase`. A number written another way than PostgreSQL
 * writes it ("042", " 42") would equal another subject's 42: the connector refuses such a value before any
 * statement runs (`canonicalStatement`).
 */
function matchOn(t: PostgresTable, value: string, param: Param): (row: string) => string {
  const col = quote(t.match.column);
  const p = param(value);
  if (t.match.ignoreCase) return (row) => `lower(${row}${col}::text) = lower(${p})`;
  return (row) => `${row}${col} = ${p}`;
}

/** A parameter list and the function that appends to it. */
function parameters(): { params: unknown[]; param: Param } {
  const params: unknown[] = [];
  return { params, param: (v) => (params.push(v), `$${params.length}`) };
}

/** HMAC-SHA256 split into its two SHA-256 passes, so PostgreSQL (sha256 is built in) computes it in place. */
function hmacPads(key: string): { inner: Buffer; outer: Buffer } {
  let k = Buffer.from(key, 'utf8');
  if (k.length > 64) k = createHash('sha256').update(k).digest();
  const block = Buffer.alloc(64);
  k.copy(block);
  return { inner: Buffer.from(block.map((b) => b ^ 0x36)), outer: Buffer.from(block.map((b) => b ^ 0x5c)) };
}

/** Text written by the `redact` mask. */
export const REDACTED = '[redacted]';

/** One SQL statement and every parameter it takes, in order. */
export interface Statement {
  text: string;
  params: unknown[];
}

/** What one batch works on: the identifier value, the last key of the previous batch (if any), the limit. */
export interface BatchInput {
  value: string;
  cursor?: string | null;
  limit: number;
  hmacKey?: string;
}

/**
 * Builds the batch statement for one table and operation: lock a batch of the subject's keys, then delete,
 * mask or (un)mark exactly those rows. The DELETE/UPDATE repeats the subject's condition on the row it
 * changes, so a key value shared with another row (a child table of an inheritance tree, which its parent's
 * primary key does not cover) never carries that row along. Returns rows changed (`n`), rows the batch
 * locked (`seen`) and the batch's last key (`last`).
 * @example const { text, params } = batchStatement(table, 'erase', { value: 'a@example.com', limit: 1000 });
 */
export function batchStatement(t: PostgresTable, op: Op, input: BatchInput): Statement {
  const rel = relation(t);
  const pk = quote(t.primaryKey);
  const { params, param } = parameters();
  const match = matchOn(t, input.value, param);
  const state = (row: string) =>
    op === 'softDelete' ? [`${row}${quote(t.softDeleteColumn!)} IS NULL`] : op === 'restore' ? [`${row}${quote(t.softDeleteColumn!)} IS NOT NULL`] : [];
  const subjects = (row: string) => [match(row), ...state(row)].join(' AND ');
  const cursor = input.cursor != null ? ` AND ${pk} > ${param(input.cursor)}` : '';
  const batch = `SELECT ${pk} AS k FROM ${rel} WHERE ${subjects('')}${cursor} ORDER BY ${pk} LIMIT ${input.limit} FOR UPDATE`;
  const rows = `t.${pk} = batch.k AND ${subjects('t.')}`;

  let change: string;
  if (op === 'erase' && t.action === 'delete') {
    change = `DELETE FROM ${rel} AS t USING batch WHERE ${rows} RETURNING 1`;
  } else if (op === 'erase') {
    const sets = t.columns.map((c) => {
      const name = typeof c === 'string' ? c : c.column;
      const mask: ColumnMask = typeof c === 'string' ? { strategy: 'redact' } : c.mask;
      return `${quote(name)} = ${maskExpression(`t.${quote(name)}`, mask, param, input.hmacKey)}`;
    });
    change = `UPDATE ${rel} AS t SET ${sets.join(', ')} FROM batch WHERE ${rows} RETURNING 1`;
  } else {
    const value = op === 'softDelete' ? 'now()' : 'NULL';
    change = `UPDATE ${rel} AS t SET ${quote(t.softDeleteColumn!)} = ${value} FROM batch WHERE ${rows} RETURNING 1`;
  }
  const text =
    `WITH batch AS (${batch}), changed AS (${change}) ` +
    'SELECT (SELECT count(*) FROM changed)::int AS n, (SELECT count(*) FROM batch)::int AS seen, ' +
    '(SELECT k::text FROM batch ORDER BY k DESC LIMIT 1) AS last';
  return { text, params };
}

function maskExpression(column: string, mask: ColumnMask, param: Param, hmacKey: string | undefined): string {
  switch (mask.strategy) {
    case 'null':
      return 'NULL';
    case 'fixed':
      return param(mask.value);
    case 'redact':
      return param(REDACTED);
    case 'hmac': {
      const { inner, outer } = hmacPads(hmacKey!);
      return `encode(sha256(${param(outer)}::bytea || sha256(${param(inner)}::bytea || convert_to(${column}::text, 'UTF8'))), 'hex')`;
    }
  }
}

/**
 * Counts the subject's rows in one table.
 * @example const { text, params } = countStatement(table, 'a@example.com');
 */
export function countStatement(t: PostgresTable, value: string): Statement {
  const { params, param } = parameters();
  return { text: `SELECT count(*)::int AS n FROM ${relation(t)} WHERE ${matchOn(t, value, param)('')}`, params };
}

/**
 * How PostgreSQL writes `value` as a value of `t`'s match column: the parameter takes the column's type
 * from the union, and the result is its text form. Reads no row; a value the type cannot hold fails with
 * SQLSTATE class 22, like the erasure itself would.
 * @example const { text, params } = canonicalStatement(table, '042'); // canon: '42' for an integer column
 */
export function canonicalStatement(t: PostgresTable, value: string): Statement {
  const col = quote(t.match.column);
  return { text: `SELECT v::text AS canon FROM (SELECT ${col} AS v FROM ${relation(t)} WHERE false UNION ALL SELECT $1) AS s`, params: [value] };
}

/**
 * What the erasure needs to know about one table before touching it, from the system catalogs: whether it
 * exists, whether the declared key column exists and is unique on its own (a primary key or a unique index
 * on exactly that column, valid and not partial: otherwise one key value can name several rows), and
 * whether the match column is a number (whose other spellings of one value must be refused).
 * @example const { rows } = await pool.query(shapeStatement(table).text, shapeStatement(table).params);
 */
export function shapeStatement(t: PostgresTable): Statement {
  const text = `
    SELECT r.oid IS NOT NULL AS found,
      EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped) AS key_found,
      EXISTS (
        SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = r.oid AND a.attname = $3 AND i.indisunique AND i.indisvalid AND i.indnkeyatts = 1 AND i.indpred IS NULL
          -- A unique index lets many rows hold NULL: a NULL key would name several rows, and no batch could move past it.
          AND (i.indisprimary OR a.attnotnull)
      ) AS key_unique,
      COALESCE((
        SELECT ty.typcategory = 'N' FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
        WHERE a.attrelid = r.oid AND a.attname = $4 AND a.attnum > 0 AND NOT a.attisdropped
      ), false) AS match_is_number
    FROM (SELECT to_regclass(format('%I.%I', $1::text, $2::text)) AS oid) AS r`;
  return { text, params: [t.schema, t.table, t.primaryKey, t.match.column] };
}
