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

/** The subject's rows: the match column equals `$1`, the identifier value (compared in lower case with `ignoreCase`). */
function matchCondition(t: PostgresTable): string {
  const col = quote(t.match.column);
  return t.match.ignoreCase ? `lower(${col}::text) = lower($1)` : `${col} = $1`;
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

/** One SQL statement and its parameters beyond the match value (`$1`) and the cursor (`$2`). */
interface Statement {
  text: string;
  params: unknown[];
}

/**
 * Builds the batch statement for one table and operation. `$1` is the identifier value, `$2` the cursor
 * (present only when `withCursor`), further parameters follow. Returns rows affected and the batch's last key.
 */
export function batchStatement(t: PostgresTable, op: Op, withCursor: boolean, limit: number, hmacKey: string | undefined): Statement {
  const rel = relation(t);
  const pk = quote(t.primaryKey);
  const params: unknown[] = [];
  const param = (v: unknown) => {
    params.push(v);
    return `$${params.length + (withCursor ? 2 : 1)}`;
  };
  const conditions = [matchCondition(t)];
  if (withCursor) conditions.push(`${pk} > $2`);
  if (op === 'softDelete') conditions.push(`${quote(t.softDeleteColumn!)} IS NULL`);
  if (op === 'restore') conditions.push(`${quote(t.softDeleteColumn!)} IS NOT NULL`);
  const batch = `SELECT ${pk} AS k FROM ${rel} WHERE ${conditions.join(' AND ')} ORDER BY ${pk} LIMIT ${limit} FOR UPDATE`;

  let change: string;
  if (op === 'erase' && t.action === 'delete') {
    change = `DELETE FROM ${rel} AS t USING batch WHERE t.${pk} = batch.k RETURNING 1`;
  } else if (op === 'erase') {
    const sets = t.columns.map((c) => {
      const name = typeof c === 'string' ? c : c.column;
      const mask: ColumnMask = typeof c === 'string' ? { strategy: 'redact' } : c.mask;
      return `${quote(name)} = ${maskExpression(`t.${quote(name)}`, mask, param, hmacKey)}`;
    });
    change = `UPDATE ${rel} AS t SET ${sets.join(', ')} FROM batch WHERE t.${pk} = batch.k RETURNING 1`;
  } else {
    const value = op === 'softDelete' ? 'now()' : 'NULL';
    change = `UPDATE ${rel} AS t SET ${quote(t.softDeleteColumn!)} = ${value} FROM batch WHERE t.${pk} = batch.k RETURNING 1`;
  }
  const text =
    `WITH batch AS (${batch}), changed AS (${change}) ` +
    `SELECT (SELECT count(*) FROM changed)::int AS n, (SELECT k::text FROM batch ORDER BY k DESC LIMIT 1) AS last`;
  return { text, params };
}

function maskExpression(column: string, mask: ColumnMask, param: (v: unknown) => string, hmacKey: string | undefined): string {
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

/** The statement that counts the subject's rows in one table (`$1` is the identifier value). */
export function countStatement(t: PostgresTable): string {
  return `SELECT count(*)::int AS n FROM ${relation(t)} WHERE ${matchCondition(t)}`;
}
