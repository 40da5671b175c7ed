/**
 * The catalog entry of a PostgreSQL system: per table, how to find the subject's rows and whether to
 * delete or anonymize them.
 */
import { z } from 'zod';
import { common, identifier, sqlName, urlWith } from '../fields';

/** A PostgreSQL connection URL. */
const postgresUrl = urlWith(['postgres:', 'postgresql:'], 'must be a postgres:// or postgresql:// URL');

/**
 * How one column is masked when a row is anonymized:
 * `null`, `fixed` (a constant), `hmac` (salted HMAC-SHA256 of the value, hex; keyed by the system's
 * `hmacKey`, so equal inputs stay joinable without being readable) or `redact` (the text `[redacted]`).
 */
export const maskSchema = z.discriminatedUnion(
  'strategy',
  [
    z.object({ strategy: z.literal('null') }).strict(),
    z.object({ strategy: z.literal('fixed'), value: z.string() }).strict(),
    z.object({ strategy: z.literal('hmac') }).strict(),
    z.object({ strategy: z.literal('redact') }).strict(),
  ],
  { error: 'unknown mask strategy (expected null, fixed, hmac or redact)' },
);

export const postgresTableSchema = z
  .object({
    table: sqlName,
    schema: sqlName.default('public'),
    /** `ignoreCase` compares lower(column) with the (already normalised) identifier, e.g. mixed-case e-mails. */
    match: z.object({ column: sqlName, identifier, ignoreCase: z.boolean().default(false) }).strict(),
    action: z.enum(['delete', 'anonymize']),
    /** Primary key column used to batch work (default `id`). A single column; it must be unique. */
    primaryKey: sqlName.default('id'),
    /** Anonymize: columns to mask, each with a strategy (`redact` by default). Must include the match column. */
    columns: z.array(z.union([sqlName, z.object({ column: sqlName, mask: maskSchema }).strict()])).default([]),
    /** Soft delete during the grace period through this timestamp column (set to now(), cleared on restore). */
    softDeleteColumn: sqlName.optional(),
    /** Rows per transaction. */
    batchSize: z.number().int().min(1).max(10_000).default(1000),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.action !== 'anonymize') {
      if (t.columns.length > 0) ctx.addIssue({ code: 'custom', path: ['columns'], message: 'columns apply to action anonymize only' });
      return;
    }
    if (t.columns.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['columns'], message: 'anonymize needs at least one column' });
      return;
    }
    const names = t.columns.map((c) => (typeof c === 'string' ? c : c.column));
    // Otherwise the row keeps matching the subject: verification could never reach 0 and a rerun re-masks it.
    if (!names.includes(t.match.column)) {
      ctx.addIssue({ code: 'custom', path: ['columns'], message: `must include the match column "${t.match.column}" so anonymized rows stop matching the subject` });
    }
    if (names.includes(t.primaryKey)) ctx.addIssue({ code: 'custom', path: ['columns'], message: `cannot mask the primary key "${t.primaryKey}"` });
  });

export const postgresSystemSchema = z
  .object({
    ...common,
    kind: z.literal('postgres'),
    /** Connection URL; put credentials in the environment: `${CUSTOMERS_DATABASE_URL}`. */
    connection: postgresUrl,
    /** Secret key for the `hmac` mask. */
    hmacKey: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Longest wait for a row lock before a batch gives up (and the activity retries). */
    lockTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
    /** Longest time one statement may run. */
    statementTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
    /** Tables in order: foreign-key children before their parents. */
    tables: z.array(postgresTableSchema).min(1, 'needs at least one table'),
  })
  .strict()
  .superRefine((s, ctx) => {
    s.tables.forEach((t, i) =>
      t.columns.forEach((c, j) => {
        if (typeof c !== 'string' && c.mask.strategy === 'hmac' && s.hmacKey === undefined) {
          ctx.addIssue({ code: 'custom', path: ['tables', i, 'columns', j, 'mask'], message: 'the hmac mask needs hmacKey on the system' });
        }
      }),
    );
  });

export type PostgresSystem = z.infer<typeof postgresSystemSchema>;
export type PostgresTable = z.infer<typeof postgresTableSchema>;
export type ColumnMask = z.infer<typeof maskSchema>;
