/**
 * The systems catalog: which systems hold personal data, how to find a subject in each, and which
 * downstream consumers must finish first. Validated with one schema; types flow from it.
 *
 * The schema is strict on purpose: a misspelt key (`prefixs:`) would otherwise be dropped silently and the
 * system would erase nothing while reporting success.
 */
import { z } from 'zod';

/** Catalog ids become workflow state keys, search attribute values and CLI arguments: keep them plain. */
const id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be lower-case letters, digits, "-" or "_" (max 64)');
/** SQL identifiers: only names that need no escaping beyond double quotes are accepted. */
const sqlName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier (letters, digits, "_")');
const identifierPattern = /^(email|userId|phone|custom\.[A-Za-z][A-Za-z0-9_]{0,63})$/;
const identifier = z.string().regex(identifierPattern, 'must be email, userId, phone or custom.<key>');

/** A `${VAR}` reference left in place (plans parsed without interpolation) passes format checks. */
const isReference = (s: string) => s.includes('${');

/** An http(s) URL. */
const httpUrl = z.string().refine((s) => {
  if (isReference(s)) return true;
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL');

/** A PostgreSQL connection URL. */
const postgresUrl = z.string().refine((s) => {
  if (isReference(s)) return true;
  try {
    const u = new URL(s);
    return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
  } catch {
    return false;
  }
}, 'must be a postgres:// or postgresql:// URL');

/** "3d", "12h", "30m" or a number of days. Parsed to days. */
export const durationDays = z.union([
  z.number().nonnegative(),
  z
    .string()
    .regex(/^\d+(\.\d+)?\s*(d|h|m)$/, 'must be a duration such as 3d, 12h or 30m')
    .transform((s) => {
      const n = parseFloat(s);
      const unit = s.trim().slice(-1);
      return unit === 'd' ? n : unit === 'h' ? n / 24 : n / 1440;
    }),
]);

const common = {
  id,
  description: z.string().optional(),
  /** Systems that must be erased before this one (e.g. a search index before its source of truth). */
  dependsOn: z.array(id).default([]),
};

// ---------------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------------

/**
 * How one column is masked when a row is anonymized:
 * `null`, `fixed` (a constant), `hmac` (salted HMAC-SHA256 of the value, hex; keyed by the system's
 * `hmacKey`, so equal inputs stay joinable without being readable) or `redact` (the text `[redacted]`).
 */
export const maskSchema = z.discriminatedUnion('strategy', [
  z.object({ strategy: z.literal('null') }).strict(),
  z.object({ strategy: z.literal('fixed'), value: z.string() }).strict(),
  z.object({ strategy: z.literal('hmac') }).strict(),
  z.object({ strategy: z.literal('redact') }).strict(),
]);

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

// ---------------------------------------------------------------------------------------------------
// S3
// ---------------------------------------------------------------------------------------------------

const placeholder = /\{([^{}]*)\}/g;

/** Checks one key template: known placeholders, at least one, and (prefixes) not ending in one. */
function checkTemplate(template: string, isPrefix: boolean): string | undefined {
  const names = [...template.matchAll(placeholder)].map((m) => m[1]);
  if (names.length === 0) return 'needs an identifier placeholder such as {userId}: without one it would match every subject';
  const unknown = names.find((n) => !identifierPattern.test(n));
  if (unknown !== undefined) return `unknown placeholder {${unknown}} (expected email, userId, phone or custom.<key>)`;
  if (/[{}]/.test(template.replace(placeholder, ''))) return 'has an unbalanced "{" or "}"';
  // "users/{userId}" would also match users/{userId}123/…: a prefix must close the identifier with a literal.
  if (isPrefix && /\}$/.test(template)) return 'must not end with a placeholder (end it with "/" or another delimiter)';
  return undefined;
}

export const s3SystemSchema = z
  .object({
    ...common,
    kind: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,62}$/, 'must be a valid bucket name'),
    /** Key prefixes with `{identifier}` placeholders, e.g. `users/{userId}/`: everything under them goes. */
    prefixes: z.array(z.string().min(1)).default([]),
    /** Exact keys with placeholders, e.g. `exports/{userId}.zip`. */
    keys: z.array(z.string().min(1)).default([]),
    /** How identifier values are written into keys: `url` (encodeURIComponent, the default) or `raw`. */
    encoding: z.enum(['url', 'raw']).default('url'),
    /** S3-compatible endpoint (MinIO); AWS S3 when absent. */
    endpoint: httpUrl.optional(),
    region: z.string().default('us-east-1'),
    /** Path-style addressing (MinIO). Set false for AWS virtual-hosted style. */
    forcePathStyle: z.boolean().default(true),
    accessKeyId: z.string().optional(),
    secretAccessKey: z.string().optional(),
    sessionToken: z.string().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.prefixes.length === 0 && s.keys.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['prefixes'], message: 'needs at least one prefix or key' });
    }
    s.prefixes.forEach((p, i) => {
      const problem = checkTemplate(p, true);
      if (problem) ctx.addIssue({ code: 'custom', path: ['prefixes', i], message: problem });
    });
    s.keys.forEach((k, i) => {
      const problem = checkTemplate(k, false);
      if (problem) ctx.addIssue({ code: 'custom', path: ['keys', i], message: problem });
    });
    if ((s.accessKeyId === undefined) !== (s.secretAccessKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey'], message: 'accessKeyId and secretAccessKey go together' });
    }
  });

// ---------------------------------------------------------------------------------------------------
// Elasticsearch
// ---------------------------------------------------------------------------------------------------

export const elasticsearchSystemSchema = z
  .object({
    ...common,
    kind: z.literal('elasticsearch'),
    node: httpUrl,
    /** Index, alias or pattern (`logs-*`, comma lists allowed). */
    index: z.string().regex(/^[a-z0-9_*.][a-z0-9_*.,-]*$/, 'must be an index name, alias or pattern (lower case)'),
    /** A `keyword` field holding the identifier; matched with a term query. */
    match: z.object({ field: z.string().min(1), identifier }).strict(),
    /** Extra query clause ANDed with the match (Elasticsearch query DSL). */
    query: z.record(z.string(), z.unknown()).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    apiKey: z.string().optional(),
    /** Throttle for delete-by-query (documents per second); unthrottled when absent. */
    requestsPerSecond: z.number().positive().optional(),
    /** Documents per delete-by-query batch. */
    scrollSize: z.number().int().min(10).max(10_000).default(1000),
    /** How often a running delete-by-query task is polled (and the activity heartbeats). */
    pollIntervalMs: z.number().int().min(50).max(60_000).default(1_000),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  })
  .strict();

// ---------------------------------------------------------------------------------------------------
// Webhook and manual
// ---------------------------------------------------------------------------------------------------

export const webhookSystemSchema = z
  .object({
    ...common,
    kind: z.literal('webhook'),
    url: httpUrl,
    /** HMAC-SHA256 signing secret for the request body. */
    secret: z.string().min(16, 'must be at least 16 characters'),
    /** `response`: a 2xx answer means erased. `signal`: the owner confirms later with confirmDeletion. */
    confirmation: z.enum(['signal', 'response']).default('response'),
    /** What the receiver gets: the identifiers, or only the subject reference (a keyed hash). */
    send: z.enum(['identifiers', 'commitment']).default('identifiers'),
    /** Milliseconds before a call is abandoned (and retried). */
    timeout: z.number().int().min(100).max(120_000).default(10_000),
    /** Response mode: ask the receiver to count what remains (`action: "verify"`) instead of trusting the 2xx. */
    verify: z.boolean().default(false),
    reminderEvery: durationDays.optional(),
  })
  .strict();

export const manualSystemSchema = z
  .object({
    ...common,
    kind: z.literal('manual'),
    owner: z.string().min(1),
    instructions: z.string().optional(),
    reminderEvery: durationDays.optional(),
  })
  .strict();

export { systemKinds } from '../systems/kinds';

export const systemSchema = z.discriminatedUnion('kind', [
  postgresSystemSchema,
  s3SystemSchema,
  elasticsearchSystemSchema,
  webhookSystemSchema,
  manualSystemSchema,
]);

export const consumerSchema = z
  .object({
    id,
    critical: z.boolean().default(false),
    timeout: durationDays.default(3),
  })
  .strict();

export const catalogSchema = z
  .object({
    systems: z.array(systemSchema).default([]),
    consumers: z.array(consumerSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.systems.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['systems', i, 'id'], message: `duplicate system id "${s.id}"` });
      seen.add(s.id);
    });
    c.systems.forEach((s, i) =>
      s.dependsOn.forEach((d, j) => {
        if (!seen.has(d)) ctx.addIssue({ code: 'custom', path: ['systems', i, 'dependsOn', j], message: `unknown system "${d}"` });
        if (d === s.id) ctx.addIssue({ code: 'custom', path: ['systems', i, 'dependsOn', j], message: 'a system cannot depend on itself' });
      }),
    );
    const consumers = new Set<string>();
    c.consumers.forEach((k, i) => {
      if (consumers.has(k.id)) ctx.addIssue({ code: 'custom', path: ['consumers', i, 'id'], message: `duplicate consumer id "${k.id}"` });
      consumers.add(k.id);
    });
  });

export type Catalog = z.infer<typeof catalogSchema>;
export type SystemConfig = z.infer<typeof systemSchema>;
export type PostgresSystem = z.infer<typeof postgresSystemSchema>;
export type PostgresTable = z.infer<typeof postgresTableSchema>;
export type ColumnMask = z.infer<typeof maskSchema>;
export type S3System = z.infer<typeof s3SystemSchema>;
export type ElasticsearchSystem = z.infer<typeof elasticsearchSystemSchema>;
export type WebhookSystem = z.infer<typeof webhookSystemSchema>;
export type ManualSystem = z.infer<typeof manualSystemSchema>;
export type ConsumerConfig = z.infer<typeof consumerSchema>;
