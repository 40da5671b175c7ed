/**
 * Manual systems: a team erases by hand and confirms with the `confirmDeletion` signal. There is no
 * connector; the workflow reminds the owner and escalates before the deadline.
 */
import { defineSystem } from '../descriptor';
import { manualSystemSchema } from './schema';

export const manual = defineSystem({
  kind: 'manual',
  schema: manualSystemSchema,
  // The owner is named in reminders and in the notify log line. The instructions are free text that nothing
  // reads from a plan: they stay in the catalog, where the owner reads them.
  planFields: ['owner'],
  secrets: [],
  plan: (system) => ({ mode: 'confirmation', softDelete: false, notify: true, reminderEveryDays: system.reminderEvery }),
  check: async (system) => ({ status: 'skip', message: `confirmed by a person (owner ${system.owner})` }),
});

export type { ManualSystem } from './schema';
