/**
 * S3 and S3-compatible stores: every object version under the subject's prefixes and exact keys is
 * deleted (./connector.ts). The plan keeps the bucket and the key templates; endpoint, region and
 * credentials stay in the worker.
 */
import { checkThrough, defineSystem } from '../descriptor';
import { s3SystemSchema, type S3System } from './schema';

// Loaded on first use: the API and the CLI validate catalogs through the registry without loading the AWS SDK.
const connector = (system: S3System) => (require('./connector') as typeof import('./connector')).s3Connector(system);

export const s3 = defineSystem({
  kind: 's3',
  schema: s3SystemSchema,
  planFields: ['bucket', 'prefixes', 'keys', 'encoding'],
  secrets: ['accessKeyId', 'secretAccessKey', 'sessionToken'],
  plan: () => ({ mode: 'automated', softDelete: false, notify: false, reminderEveryDays: undefined }),
  connector,
  check: checkThrough(connector),
});

export type { S3System } from './schema';
