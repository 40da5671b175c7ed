/**
 * The failure converter of every engine process (loaded by path: the worker bundles it into workflow code,
 * so it must stay free of I/O). Error messages and stack traces move into the failure's encoded attributes,
 * which the payload codec encrypts under the default key: a connector error that quotes an identifier never
 * reaches Temporal's history in plaintext.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
