/**
 * The catalog entry of an Elasticsearch system: an index (or alias, or pattern) and the keyword field that
 * holds a subject's identifier.
 */
import { z } from 'zod';
import { common, httpUrl, identifier } from '../fields';

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

export type ElasticsearchSystem = z.infer<typeof elasticsearchSystemSchema>;
