/**
 * How S3's answers are classified: permanent (a missing bucket, refused credentials, a 4xx) or transient
 * (Temporal retries, within the transient window of ../connector-kit.ts): throttling, a store that is
 * starting, overloaded or failing over, an unreachable endpoint. Only error codes and statuses are passed on.
 */
import { TransientConnectorError, isNonRetryable, nonRetryable, transientNetworkCode } from '../connector-kit';

/** S3 error codes of a store that asks to be called again later. */
const transientS3Codes = new Set([
  'SlowDown', 'RequestTimeout', 'TimeoutError', 'InternalError', 'ServiceUnavailable', 'Throttling', 'ThrottlingException',
  'RequestLimitExceeded', 'OperationAborted', 'XMinioServerNotInitialized', 'XMinioReadQuorum', 'XMinioWriteQuorum',
]);

/**
 * The error to throw for `err`, naming the system and the bucket.
 * @example catch (err) { throw classify(system.id, bucket, err); }
 */
export function classify(systemId: string, bucket: string, err: unknown): Error {
  if (isNonRetryable(err) || err instanceof TransientConnectorError) return err as Error;
  const e = (err ?? {}) as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.Code ?? e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  if (name === 'NoSuchBucket' || (name === 'NotFound' && status === 404)) return nonRetryable(systemId, `bucket "${bucket}" does not exist`);
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'InvalidClientTokenId', 'AuthorizationHeaderMalformed'].includes(name)) {
    return nonRetryable(systemId, `S3 rejected the credentials (${name})`);
  }
  if (name === 'AccessDenied' || status === 403) return nonRetryable(systemId, `access denied to bucket "${bucket}" (${name})`);
  const net = transientNetworkCode(err);
  if (net) return new TransientConnectorError(systemId, `cannot reach S3 (${net})`);
  // Throttling, a store that is starting, overloaded or failing over: transient (some answer without a status).
  if (status === 429 || status === 408 || transientS3Codes.has(name) || (status !== undefined && status >= 500)) {
    return new TransientConnectorError(systemId, `S3 is unavailable (${name}${status ? `, HTTP ${status}` : ''})`);
  }
  if (status !== undefined && status >= 400) return nonRetryable(systemId, `S3 refused the request (${name}, HTTP ${status})`);
  return new TransientConnectorError(systemId, `S3 call failed (${name})`);
}
