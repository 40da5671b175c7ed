/**
 * The systems catalog: which systems hold personal data, how to find a subject in each, and which
 * downstream consumers must finish first. Validated with one schema; types flow from it.
 */
import { z } from 'zod';

/** Catalog ids become workflow state keys, search attribute values and CLI arguments: keep them plain. */
const id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be lower-case letters, digits, "-" or "_" (max 64)');
/** SQL identifiers: only names that need no escaping beyond double quotes are accepted. */
const sqlName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier (letters, digits, "_")');
const identifier = z
  .string()
  .regex(/^(email|userId|phone|custom\.[A-Za-z][A-Za-z0-9_]{0,63})$/, 'must be email, userId, phone or custom.<key>');

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

export const maskSchema = z.union([
  z.object({ strategy: z.literal('null') }),
  z.object({ strategy: z.literal('fixed'), value: z.string() }),
  z.object({ strategy: z.literal('hmac') }),
  z.object({ strategy: z.literal('redact') }),
]);

export const postgresTableSchema = z
  .object({
    table: sqlName,
    schema: sqlName.default('public'),
    match: z.object({ column: sqlName, identifier }),
    action: z.enum(['delete', 'anonymize']),
    /** Primary key column used to batch work (default `id`). */
    primaryKey: sqlName.default('id'),
    /** Anonymize: columns to mask, each with a strategy (`redact` by default). */
    columns: z.array(z.union([sqlName, z.object({ column: sqlName, mask: maskSchema })])).default([]),
    /** Soft delete during the grace period through this timestamp column. */
    softDeleteColumn: sqlName.optional(),
    batchSize: z.number().int().min(1).max(10_000).default(1000),
  })
  .refine((t) => t.action !== 'anonymize' || t.columns.length > 0, { message: 'anonymize needs at least one column', path: ['columns'] });

export const postgresSystemSchema = z.object({
  ...common,
  kind: z.literal('postgres'),
  connection: z.string().min(1),
  tables: z.array(postgresTableSchema).min(1, 'needs at least one table'),
});

export const s3SystemSchema = z.object({
  ...common,
  kind: z.literal('s3'),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,62}$/, 'must be a valid bucket name'),
  /** Key prefixes with `{identifier}` placeholders, e.g. `users/{userId}/`. */
  prefixes: z.array(z.string().min(1)).default([]),
  /** Exact keys with placeholders. */
  keys: z.array(z.string().min(1)).default([]),
  endpoint: z.url().optional(),
  region: z.string().default('us-east-1'),
  forcePathStyle: z.boolean().default(true),
  accessKeyId: z.string().optional(),
  secretAccessKey: z.string().optional(),
});

export const elasticsearchSystemSchema = z.object({
  ...common,
  kind: z.literal('elasticsearch'),
  node: z.url(),
  index: z.string().min(1),
  match: z.object({ field: z.string().min(1), identifier }),
  /** Extra query clause ANDed with the match. */
  query: z.record(z.string(), z.unknown()).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
});

export const webhookSystemSchema = z.object({
  ...common,
  kind: z.literal('webhook'),
  url: z.url(),
  /** HMAC-SHA256 signing secret for the request body. */
  secret: z.string().min(16, 'must be at least 16 characters'),
  confirmation: z.enum(['signal', 'response']).default('response'),
  /** What the receiver gets: the identifiers, or only the subject commitment. */
  send: z.enum(['identifiers', 'commitment']).default('identifiers'),
  timeout: z.number().int().min(100).max(120_000).default(10_000),
  reminderEvery: durationDays.optional(),
});

export const manualSystemSchema = z.object({
  ...common,
  kind: z.literal('manual'),
  owner: z.string().min(1),
  instructions: z.string().optional(),
  reminderEvery: durationDays.optional(),
});

export const systemSchema = z.discriminatedUnion('kind', [
  postgresSystemSchema,
  s3SystemSchema,
  elasticsearchSystemSchema,
  webhookSystemSchema,
  manualSystemSchema,
]);

export const consumerSchema = z.object({
  id,
  critical: z.boolean().default(false),
  timeout: durationDays.default(3),
});

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
export type S3System = z.infer<typeof s3SystemSchema>;
export type ElasticsearchSystem = z.infer<typeof elasticsearchSystemSchema>;
export type WebhookSystem = z.infer<typeof webhookSystemSchema>;
export type ManualSystem = z.infer<typeof manualSystemSchema>;
export type ConsumerConfig = z.infer<typeof consumerSchema>;
