/** Schemas of the API's inputs and outputs: the route table (./routes.ts) validates with them and documents them. */
import { z } from 'zod';
import {
  cancelSchema,
  confirmDeletionSchema,
  consumerCompletedSchema,
  erasureStatuses,
  extendDeadlineSchema,
  jurisdictions,
  jurisdictionSchema,
  ledgerStatuses,
  notBlankPattern,
  placeLegalHoldSchema,
  releaseLegalHoldSchema,
  retrySystemSchema,
  subjectIdentifiersSchema,
  bulkBatchIdPattern,
} from '../domain';
import { bulkSelectionSchema } from '../use-cases/bulk';
import { id as catalogIdSchema } from '../systems/fields';
import { REPORT_DEFAULT_DAYS, REPORT_MAX_YEARS, reportInstantPattern } from '../use-cases/report';

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
  status: z.enum(ledgerStatuses).describe('queued for a new request (its workflow starts within moments); a repeated submission shows the current status'),
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

const reportInstantSchema = z.string().regex(reportInstantPattern, 'must be a date (2026-11-01) or an ISO 8601 date-time (2026-11-01T00:00:00Z)');

/**
 * Query of `GET /reports/erasures`. Rules across the two bounds (from not after to, at most 5 years) and
 * calendar validity (no 2026-02-30) are answered 400 by the use case.
 */
export const reportQuerySchema = z
  .object({
    from: reportInstantSchema.optional().describe(`First instant included: a date (UTC midnight) or an ISO 8601 date-time (UTC without an offset); default ${REPORT_DEFAULT_DAYS} days before \`to\``),
    to: reportInstantSchema.optional().describe(`First instant excluded, same forms; default now. At most ${REPORT_MAX_YEARS} years after \`from\``),
    format: z.enum(['json', 'csv']).default('json').describe('json, or csv (RFC 4180, a header row, one row per jurisdiction and a total row)'),
  })
  .strict();

const reportRowSchema = z.object({
  scope: z.enum([...jurisdictions, 'total']),
  received: z.number().int(),
  completed: z.number().int().describe('A certificate was issued'),
  cancelled: z.number().int(),
  open: z.number().int(),
  overdue: z.number().int().describe('overdueOpen + completedLate'),
  overdueOpen: z.number().int().describe('Open, and the (possibly extended) deadline has passed'),
  completedLate: z.number().int().describe('Certificate issued after the (possibly extended) deadline'),
  onTime: z.number().int().describe('Certificate issued on or before the (possibly extended) deadline'),
  extended: z.number().int().describe('Requests whose deadline was extended'),
  onTimeRate: z.number().nullable().describe('onTime / completed (0 to 1); null when none completed'),
  medianSeconds: z.number().nullable().describe('Receipt to certificate over the completed requests (percentile_cont); null when none completed'),
  p95Seconds: z.number().nullable(),
  oldestOpenAgeSeconds: z.number().nullable().describe('Age of the oldest open request at asOf; null when none is open'),
  oldestOpenRequestId: z.string().nullable(),
});

/** The JSON answer of `GET /reports/erasures`: counts, durations and request ids, never anything about a subject. */
export const erasureReportSchema = z.object({
  from: z.string().describe('Requests received from this instant (included)'),
  to: z.string().describe('to this one (excluded)'),
  asOf: z.string().describe('When the outcomes were read: open, overdue and ages are as of this instant'),
  percentiles: z.string(),
  rows: z.array(reportRowSchema).describe('GDPR, CCPA, then total'),
  overdueRequests: z
    .array(
      z.object({
        requestId: z.string(),
        jurisdiction: jurisdictionSchema,
        kind: z.enum(['open', 'late']),
        receivedAt: z.string(),
        deadline: z.string(),
        certifiedAt: z.string().nullable(),
      }),
    )
    .describe('Overdue requests by deadline, at most 1000'),
  overdueRequestsTruncated: z.boolean(),
});

// Bulk operator actions (src/use-cases/bulk.ts): `POST /bulk/{action}` and `GET /bulk/{batchId}`.
const bulkBody = <P extends z.ZodType>(payload: P) =>
  z.strictObject({
    selection: bulkSelectionSchema,
    payload,
    dryRun: z.boolean().default(false).describe('Only count the requests the selection reaches, and show the first ids; send nothing'),
  });
/** Bodies of `POST /bulk/confirm`, `/bulk/retry` and `/bulk/extend`: which requests, and the signal's payload. */
export const bulkBodies = {
  confirm: bulkBody(confirmDeletionSchema.partial({ confirmedBy: true }).describe('confirmDeletion; confirmedBy defaults to the API key name')),
  retry: bulkBody(retrySystemSchema),
  extend: bulkBody(extendDeadlineSchema),
};
const bulkMatchShape = {
  count: z.number().int().describe('Open requests the selection reaches'),
  sample: z.array(z.string()).describe('The first request ids, sorted'),
  unmatched: z
    .object({ count: z.number().int(), sample: z.array(z.string()) })
    .optional()
    .describe('Listed request ids that are not open erasures (unknown, closed or queued): not reached'),
};
export const bulkDryRunSchema = z.object({ dryRun: z.literal(true), ...bulkMatchShape });
export const bulkStartedSchema = z.object({ batchId: z.string(), ...bulkMatchShape, links: z.object({ self: z.string() }) });
export const bulkBatchParamsSchema = z.object({ batchId: z.string().regex(bulkBatchIdPattern, 'must be a bulk batch id (bulk-<uuid>)') });
export const bulkBatchSchema = z.object({
  batchId: z.string(),
  action: z.string().describe('The signal sent'),
  actor: z.string().describe('The API key that sent it'),
  target: z.object({ system: z.string().optional(), consumer: z.string().optional(), status: z.string().optional(), days: z.number().optional() }),
  query: z.string().describe('The visibility query the requests were listed with'),
  createdAt: z.string(),
  count: z.number().int(),
  state: z.enum(['running', 'completed', 'failed', 'not_started', 'unknown']),
  signalled: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }).describe("Temporal's batch progress"),
  recorded: z.object({ accepted: z.number().int(), refused: z.number().int() }).describe("The requests' trails so far: the workflow accepted the action, or refused it"),
  startError: z.string().optional(),
  closedAt: z.string().optional(),
});
