/**
 * What operators may do to an open request, with the schema of each payload. The workflow validates
 * raw JSON from CLIs with these, and the API validates its HTTP twins with the same schemas.
 */
import { z } from 'zod';
import { consumerOutcomes } from './statuses';
import { notBlankPattern } from './subject';

// The pattern adds nothing once min(1) has passed on the trimmed value (abort keeps the one message for a
// blank value); it is there so the API's document says that a blank value is refused.
const text = (max: number) => z.string().trim().min(1, { abort: true }).max(max).regex(notBlankPattern, 'must not be blank');

export const confirmDeletionSchema = z.object({
  system: text(128),
  confirmedBy: text(256),
  reference: text(512).optional(),
  note: text(2000).optional(),
});
export const consumerCompletedSchema = z.object({
  consumer: text(128),
  status: z.enum(consumerOutcomes),
  note: text(2000).optional(),
});
export const placeLegalHoldSchema = z.object({ reason: text(2000), placedBy: text(256) });
export const releaseLegalHoldSchema = z.object({ releasedBy: text(256) });
export const extendDeadlineSchema = z.object({ days: z.number().int().positive().max(366), reason: text(2000) });
export const cancelSchema = z.object({ reason: text(2000) });
export const retrySystemSchema = z.object({ system: text(128) });

export type ConfirmDeletion = z.infer<typeof confirmDeletionSchema>;
export type ConsumerCompleted = z.infer<typeof consumerCompletedSchema>;
export type PlaceLegalHold = z.infer<typeof placeLegalHoldSchema>;
export type ReleaseLegalHold = z.infer<typeof releaseLegalHoldSchema>;
export type ExtendDeadline = z.infer<typeof extendDeadlineSchema>;
export type Cancel = z.infer<typeof cancelSchema>;
export type RetrySystem = z.infer<typeof retrySystemSchema>;

/** Each operator action (a signal's name) with the schema of its payload. */
export const operatorActionSchemas = {
  confirmDeletion: confirmDeletionSchema,
  consumerCompleted: consumerCompletedSchema,
  placeLegalHold: placeLegalHoldSchema,
  releaseLegalHold: releaseLegalHoldSchema,
  extendDeadline: extendDeadlineSchema,
  cancel: cancelSchema,
  retrySystem: retrySystemSchema,
} as const;
export type OperatorActionName = keyof typeof operatorActionSchemas;
export type OperatorActionPayloads = { [K in OperatorActionName]: z.infer<(typeof operatorActionSchemas)[K]> };

/** What an operator action produced: accepted, or refused with the reason (the state forbids it). */
export interface OperatorActionResult {
  accepted: boolean;
  reason?: string;
}
