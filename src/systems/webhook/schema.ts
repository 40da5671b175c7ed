/** The catalog entry of a webhook system: where to POST the signed erasure request, and how it is confirmed. */
import { z } from 'zod';
import { common, durationDays, httpUrl } from '../fields';

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

export type WebhookSystem = z.infer<typeof webhookSystemSchema>;
