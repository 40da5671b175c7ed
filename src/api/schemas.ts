/** Schemas of the API's inputs and outputs: the route table (./routes.ts) validates with them and documents them. */
import { z } from 'zod';
import {
  cancelSchema,
  confirmDeletionSchema,
  consumerCompletedSchema,
  erasureStatuses,
  extendDeadlineSchema,
  jurisdictionSchema,
  ledgerStatuses,
  notBlankPattern,
  placeLegalHoldSchema,
  releaseLegalHoldSchema,
  subjectIdentifiersSchema,
} from '../domain';
import { id as catalogIdSchema } from '../systems/fields';

export const requestIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');

/** Body of `POST /erasures`. */
export const erasureRequestSchema = z
  .object({
    requestId: requestIdSchema.optional().describe('Idempotency key; also accepted as the Idempotency-Key header'),
    subject: subjectIdentifiersSchema,
    jurisdiction: jurisdictionSchema,
    source: z.string().max(256).regex(notBlankPattern, 'must not be blank').trim().optional().describe('Where the request came from (form, e-mail, support ticket)'),
    notes: z.string().max(4000).optional(),
  })
  .strict();
export type ErasureRequestBody = z.infer<typeof erasureRequestSchema>;

/** Headers of `POST /erasures`. */
export const submitHeadersSchema = z.object({
  'Idempotency-Key': requestIdSchema.optional().describe('The requestId; a retry with the same key and body returns the same request'),
});

/** Path parameters. */
export const idParamsSchema = z.object({ id: requestIdSchema });
// Catalog ids have a pattern of their own (src/systems/fields.ts); the path is validated, and documented, with it.
export const consumerParamsSchema = idParamsSchema.extend({ consumer: catalogIdSchema.describe('A consumer id from the catalog') });
export const systemParamsSchema = idParamsSchema.extend({ system: catalogIdSchema.describe('A system id from the catalog') });

export const consumerCompleteBodySchema = consumerCompletedSchema.omit({ consumer: true });
export const retryBodySchema = z.object({}).strict();

export const listQuerySchema = z
  .object({
    status: z.enum(erasureStatuses).optional(),
    overdue: z.enum(['true', 'false']).optional(),
    jurisdiction: jurisdictionSchema.optional(),
    pageSize: z.coerce.number().int().min(1).max(200).default(50),
    pageToken: z.string().regex(/^[A-Za-z0-9_-]*$/, 'must be a token from a previous page').optional(),
  })
  .strict();

const linksSchema = z.object({ self: z.string(), certificate: z.string() });

export const acceptedSchema = z.object({
  requestId: z.string(),
  workflowId: z.string(),
  status: z.enum(ledgerStatuses).describe('accepted, or queued while Temporal is unreachable; a repeated submission shows the current status'),
  deadline: z.string().describe('The legal deadline (ISO 8601)'),
  links: linksSchema,
});

export const listPageSchema = z.object({
  items: z.array(
    z.object({
      requestId: z.string(),
      workflowId: z.string(),
      status: z.enum(erasureStatuses).nullable(),
      deadline: z.string().nullable(),
      overdue: z.boolean(),
      jurisdiction: jurisdictionSchema.nullable(),
      pendingSystems: z.array(z.string()),
      links: linksSchema,
    }),
  ),
  nextPageToken: z.string().nullable(),
});

export const readinessSchema = z.object({
  ready: z.boolean(),
  checks: z
    .object({ database: z.string(), temporal: z.string() })
    .optional()
    .describe('"ok" or the error of each dependency; only for a caller presenting a valid API key (any scope)'),
});

export const actionResultSchema = z.object({ accepted: z.literal(true), requestId: z.string(), action: z.string() });

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  requestId: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

/** Bodies of the operator actions (the workflow validates the same payloads again). */
export const operatorBodies = {
  confirmations: confirmDeletionSchema,
  consumerComplete: consumerCompleteBodySchema,
  placeLegalHold: placeLegalHoldSchema,
  releaseLegalHold: releaseLegalHoldSchema,
  extend: extendDeadlineSchema,
  cancel: cancelSchema,
  retry: retryBodySchema,
};

/** Body of `POST /erasures/preview`: the subject, exactly as `POST /erasures` takes it. */
export const previewRequestSchema = erasureRequestSchema.pick({ subject: true }).strict();

const previewEntrySchema = z.object({
  target: z.string().describe('What is looked at: schema.table, bucket/prefix, an index'),
  delete: z.number().int().describe('Rows, objects or documents an erasure would delete'),
  anonymize: z.number().int().describe('Rows it would keep with their columns masked'),
  shared: z.number().int().describe('Found but kept: others still refer to it or hold it with the subject'),
});

/** The answer of `POST /erasures/preview`: counts per system and target, never an identifier value. */
export const previewReportSchema = z.object({
  ok: z.boolean().describe('False when a system could not be previewed (its error says why)'),
  systems: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      status: z.enum(['previewed', 'not_counted', 'failed']),
      entries: z.array(previewEntrySchema),
      derived: z.record(z.string(), z.number().int()).describe('How many values this system found per derived identifier name'),
      note: z.string().optional().describe('Why nothing was counted (a person or a webhook erases this system)'),
      error: z.string().optional().describe('Why the system could not be previewed'),
      ms: z.number(),
    }),
  ),
  totals: z.object({
    delete: z.number().int(),
    anonymize: z.number().int(),
    shared: z.number().int(),
    derived: z.record(z.string(), z.number().int()).describe('Distinct derived values per identifier name'),
    systems: z.number().int(),
    failed: z.number().int(),
  }),
});
