/**
 * The SQL primitives every PostgreSQL statement is built from: quoting, parameters, masks, and the probe
 * that shows how PostgreSQL spells a value in a column's type. Table and column names come only from the
 * catalog and are double-quoted; values are always parameters.
 */
import { createHash } from 'node:crypto';
import type { ColumnMask, PostgresTable } from './schema';

/** What a batch does: erase (delete or anonymize, per the table), or set / clear the soft-delete column. */
export type Op = 'erase' | 'softDelete' | 'restore';

export const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
export const relation = (t: PostgresTable) => `${quote(t.schema)}.${quote(t.table)}`;
/** `schema.table`, for messages and receipts. */
export const label = (t: PostgresTable) => `${t.schema}.${t.table}`;

/** Adds a parameter and returns its placeholder. */
export type Param = (value: unknown) => string;

/** A parameter list and the function that appends to it. */
export function parameters(): { params: unknown[]; param: Param } {
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

/**
 * The expression that masks one column (`column` is its qualified, quoted reference).
 * @example maskExpression('t."email"', { strategy: 'hmac' }, param, key)
 */
export function maskExpression(column: string, mask: ColumnMask, param: Param, hmacKey: string | undefined): string {
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


/** The SET list that masks an entry's columns (`redact` when a column names no strategy). */
export function maskAssignments(t: PostgresTable, row: string, param: Param, hmacKey: string | undefined): string {
  return t.columns
    .map((c) => {
      const name = typeof c === 'string' ? c : c.column;
      const mask: ColumnMask = typeof c === 'string' ? { strategy: 'redact' } : c.mask;
      return `${quote(name)} = ${maskExpression(`${row}.${quote(name)}`, mask, param, hmacKey)}`;
    })
    .join(', ');
}

/**
 * How PostgreSQL writes `value` as a value of `t`'s column `column`: the parameter takes the column's type
 * from the union, and the result is its text form. Reads no row; a value the type cannot hold fails with
 * SQLSTATE class 22, like the erasure itself would.
 * @example const { text, params } = canonicalStatement(table, 'user_id', '042'); // canon: '42' for an integer column
 */
export function canonicalStatement(t: PostgresTable, column: string, value: string): Statement {
  const col = quote(column);
  return { text: `SELECT v::text AS canon FROM (SELECT ${col} AS v FROM ${relation(t)} WHERE false UNION ALL SELECT $1) AS s`, params: [value] };
}
