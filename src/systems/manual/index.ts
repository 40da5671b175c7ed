/**
 * Manual systems: a team erases by hand and confirms with the `confirmDeletion` signal. There is no
 * connector; the workflow reminds the owner and escalates before the deadline.
 */
import { defineSystem } from '../descriptor';
import { manualSystemSchema } from './schema';

export const manual = defineSystem({
  kind: 'manual',
  schema: manualSystemSchema,
  // The owner is named in reminders; the instructions say what to do.
  planFields: ['owner', 'instructions'],
  secrets: [],
  plan: (system) => ({ mode: 'confirmation', softDelete: false, notify: true, reminderEveryDays: system.reminderEvery }),
  check: async (system) => ({ status: 'skip', message: `confirmed by a person (owner ${system.owner})` }),
});

export type { ManualSystem } from './schema';
