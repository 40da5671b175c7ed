/**
 * The one data converter of the worker, the API's client and the CLI: default JSON payloads, failure
 * messages moved into encrypted attributes, and the {@link EncryptionCodec}.
 */
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './codec';
import type { KeyStore } from './keys';

/** The failure converter's module; workflow bundles are built with it (see `src/temporal/workflow-bundle.ts`). */
export const failureConverterPath = require.resolve('./failure-converter');

/**
 * Builds the data converter for a process's key store.
 * @example
 * const keyStore = await openKeyStore({ pool, masterKey: loadMasterKey(config) });
 * const dataConverter = createDataConverter(keyStore);
 * await Worker.create({ connection, taskQueue, workflowsPath, activities, dataConverter });
 * new Client({ connection, namespace, dataConverter });
 */
export function createDataConverter(keyStore: KeyStore): DataConverter {
  return {
    payloadCodecs: [new EncryptionCodec(keyStore)],
    failureConverterPath,
  };
}
