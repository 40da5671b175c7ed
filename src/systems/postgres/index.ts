/**
 * PostgreSQL: per table entry, the subject's rows (found by an identifier or through relations to rows
 * already found) are deleted or anonymized in key batches (./connector.ts). The plan keeps the tables; the
 * connection URL, the hmac key and the work schema stay in the worker.
 */
import { checkThrough, defineSystem } from '../descriptor';
import { postgresSystemSchema, type PostgresSystem } from './schema';

// Loaded on first use: the API and the CLI validate catalogs through the registry without loading `pg`.
const connector = (system: PostgresSystem) => (require('./connector') as typeof import('./connector')).postgresConnector(system);

export const postgres = defineSystem({
  kind: 'postgres',
  schema: postgresSystemSchema,
  planFields: ['tables'],
  secrets: ['connection', 'hmacKey'],
  plan: (system) => ({
    mode: 'automated',
    softDelete: system.tables.some((t) => t.softDeleteColumn !== undefined),
    notify: false,
    reminderEveryDays: undefined,
    provides: [...new Set(system.tables.flatMap((t) => Object.keys(t.provides ?? {})))],
  }),
  connector,
  check: checkThrough(connector),
});

export type { PostgresSystem, PostgresTable, ColumnMask } from './schema';
