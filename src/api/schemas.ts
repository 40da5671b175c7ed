/** Schemas of the API's inputs and outputs: they validate requests and generate /openapi.json. */
import { z } from 'zod';
import { erasureStatuses, confirmDeletionSchema, consumerCompletedSchema, extendDeadlineSchema, jurisdictionSchema, placeLegalHoldSchema, releaseLegalHoldSchema, cancelSchema, subjectIdentifiersSchema } from '../domain';

export const requestIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');

/** Body of `POST /erasures`. */
export const erasureRequestSchema = z
  .object({
    requestId: requestIdSchema.optional().describe('Idempotency key; also accepted as the Idempotency-Key header'),
    subject: subjectIdentifiersSchema,
    jurisdiction: jurisdictionSchema,
    source: z.string().trim().min(1).max(256).optional().describe('Where the request came from (form, e-mail, support ticket)'),
    notes: z.string().max(4000).optional(),
  })
  .strict();
export type ErasureRequestBody = z.infer<typeof erasureRequestSchema>;

export const consumerCompleteBodySchema = consumerCompletedSchema.omit({ consumer: true });
export const retryBodySchema = z.object({}).strict();

export const listQuerySchema = z
  .object({
    status: z
      .enum(erasureStatuses)
      .optional(),
    overdue: z.enum(['true', 'false']).optional(),
    jurisdiction: jurisdictionSchema.optional(),
    pageSize: z.coerce.number().int().min(1).max(200).default(50),
    pageToken: z.string().regex(/^[A-Za-z0-9_-]*$/, 'must be a token from a previous page').optional(),
  })
  .strict();

export const acceptedSchema = z.object({
  requestId: z.string(),
  workflowId: z.string(),
  status: z.enum(['accepted', 'queued']).or(z.string()),
  links: z.object({ self: z.string(), certificate: z.string() }),
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

export const operatorBodies = {
  confirmations: confirmDeletionSchema,
  consumerComplete: consumerCompleteBodySchema,
  placeLegalHold: placeLegalHoldSchema,
  releaseLegalHold: releaseLegalHoldSchema,
  extend: extendDeadlineSchema,
  cancel: cancelSchema,
  retry: retryBodySchema,
};
