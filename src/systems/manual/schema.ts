/** The catalog entry of a manual system: a team that erases by hand and confirms with a signal. */
import { z } from 'zod';
import { common, durationDays } from '../fields';

export const manualSystemSchema = z
  .object({
    ...common,
    kind: z.literal('manual'),
    owner: z.string().min(1),
    instructions: z.string().optional(),
    reminderEvery: durationDays.optional(),
  })
  .strict();

export type ManualSystem = z.infer<typeof manualSystemSchema>;
