/**
 * The catalog entry of a PostgreSQL system: per table, how to find the subject's rows and whether to
 * delete or anonymize them.
 */
import { z } from 'zod';
import { common, identifier, sqlName, urlWith } from '../fields';
import { keyColumns, matchesOf, relationProblems } from './graph';

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

/** A row matches when this column holds the subject's identifier. */
export const identifierMatchSchema = z
  .object({
    column: sqlName,
    identifier,
    /** Compares lower(column) with the (already normalised) identifier, e.g. mixed-case e-mails. */
    ignoreCase: z.boolean().default(false),
  })
  .strict();

/** `<entry>.<column>`: a column of another table entry of the same system (its `name`, or its table). */
const referenceTarget = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}\.[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be <table entry>.<column>, e.g. customer.id');

/**
 * A row matches when this column holds a value that `references` holds in one of the subject's rows of
 * another entry: `{ column: customer_id, references: customer.id }` (children by foreign key) or
 * `{ column: id, references: customer.address_id }` (the row the subject's row points to).
 */
export const referenceMatchSchema = z.object({ column: sqlName, references: referenceTarget }).strict();

const matchItemSchema = z.union([referenceMatchSchema, identifierMatchSchema], {
  error: 'a match is { column, identifier } or { column, references: <entry>.<column> }',
});

export const postgresTableSchema = z
  .object({
    /** How other entries reference this one; defaults to `table`. Needed when a table is listed twice. */
    name: sqlName.optional(),
    table: sqlName,
    schema: sqlName.default('public'),
    /** One match, or a list of matches of which any one makes a row the subject's. */
    match: z.union([matchItemSchema, z.array(matchItemSchema).min(1, 'needs at least one match').max(16)]),
    action: z.enum(['delete', 'anonymize']),
    /** The key that names one row (default `id`): a column, or several for a composite key. It must be unique. */
    primaryKey: z.union([sqlName, z.array(sqlName).min(1).max(8)]).default('id'),
    /** Anonymize (or `onShared: anonymize`): columns to mask, each with a strategy (`redact` by default). */
    columns: z.array(z.union([sqlName, z.object({ column: sqlName, mask: maskSchema }).strict()])).default([]),
    /**
     * A row reached through a reference that rows outside the subject's still reference (an address another
     * customer's order uses): `keep` it (default, counted as shared), `anonymize` it, or `erase` it anyway.
     */
    onShared: z.enum(['keep', 'anonymize', 'erase']).default('keep'),
    /** Identifiers this table gives the subject when the request lacks them: `{ userId: id }`. */
    provides: z.record(identifier, sqlName).optional(),
    /** Soft delete during the grace period through this timestamp column (set to now(), cleared on restore). */
    softDeleteColumn: sqlName.optional(),
    /** Rows per transaction. */
    batchSize: z.number().int().min(1).max(10_000).default(1000),
  })
  .strict()
  .superRefine((t, ctx) => {
    const masked = t.action === 'anonymize' || t.onShared === 'anonymize';
    if (!masked) {
      if (t.columns.length > 0) ctx.addIssue({ code: 'custom', path: ['columns'], message: 'columns apply to action anonymize (or onShared: anonymize) only' });
      return;
    }
    if (t.columns.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['columns'], message: `${t.action === 'anonymize' ? 'anonymize' : 'onShared: anonymize'} needs at least one column` });
      return;
    }
    const names = t.columns.map((c) => (typeof c === 'string' ? c : c.column));
    // Otherwise the row keeps matching the subject: verification could never reach 0 and a rerun re-masks it.
    if (t.action === 'anonymize') {
      for (const m of matchesOf(t)) {
        if ('identifier' in m && !names.includes(m.column)) {
          ctx.addIssue({ code: 'custom', path: ['columns'], message: `must include the match column "${m.column}" so anonymized rows stop matching the subject` });
        }
      }
    }
    for (const k of keyColumns(t)) if (names.includes(k)) ctx.addIssue({ code: 'custom', path: ['columns'], message: `cannot mask the primary key "${k}"` });
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
    /**
     * The tables and how the subject's rows are found in each. Order does not matter: changes follow the
     * relations (rows that point at others before the rows they point at).
     */
    tables: z.array(postgresTableSchema).min(1, 'needs at least one table'),
    /**
     * Schema in this database where the engine keeps each erasure's resolved keys until it completes (created
     * on first use; the connection's role needs CREATE on the database, or create it beforehand).
     */
    workSchema: sqlName.default('erasure_engine'),
  })
  .strict()
  .superRefine((s, ctx) => {
    for (const problem of relationProblems(s.tables)) ctx.addIssue({ code: 'custom', path: ['tables', ...problem.path], message: problem.message });
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
export type IdentifierMatch = z.infer<typeof identifierMatchSchema>;
export type ReferenceMatch = z.infer<typeof referenceMatchSchema>;
export type MatchItem = IdentifierMatch | ReferenceMatch;
