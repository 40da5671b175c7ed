/**
 * How Elasticsearch's answers are classified: permanent (an operator must act) or transient (Temporal
 * retries). Only status codes and error types are passed on: Elasticsearch quotes queries, and so
 * identifiers, in some of its reasons.
 */
import { errors as esErrors } from '@elastic/elasticsearch';
import { TransientConnectorError, isNonRetryable, nonRetryable, transientNetworkCode } from '../connector-kit';

/** The answer of a cluster that does not serve an endpoint: 400 `{"error":"no handler found for uri [...] and method [...]"}`. */
export function isNoHandler(err: unknown): boolean {
  if (!(err instanceof esErrors.ResponseError) || err.statusCode !== 400) return false;
  const body = err.body as { error?: unknown } | undefined;
  return typeof body?.error === 'string' && /^no handler found for uri/i.test(body.error);
}

/** A bulk item error that retrying cannot cure: the index is gone or its mapping refuses the operation. */
export function isPermanentItemError(type: string | undefined): boolean {
  return !!type && (type === 'index_not_found_exception' || /mapp(er|ing)/i.test(type));
}

/** The error to throw for `err`, naming the system and the index. */
export function classify(systemId: string, index: string, err: unknown): Error {
  if (isNonRetryable(err) || err instanceof TransientConnectorError) return err as Error;
  if (err instanceof esErrors.ResponseError) {
    const status = err.statusCode ?? 0;
    const body = err.body as { error?: { type?: string; root_cause?: { type?: string }[] } | string } | undefined;
    const type = typeof body?.error === 'object' ? (body.error.root_cause?.[0]?.type ?? body.error.type) : undefined;
    if (type === 'index_not_found_exception') return nonRetryable(systemId, `index "${index}" does not exist`);
    if (status === 401) return nonRetryable(systemId, 'Elasticsearch rejected the credentials (HTTP 401)');
    if (status === 403) return nonRetryable(systemId, `Elasticsearch denied access to "${index}" (HTTP 403, ${type ?? 'forbidden'})`);
    if (isNoHandler(err)) {
      return nonRetryable(systemId, 'this cluster does not serve the API the connector needs (no handler found; for _delete_by_query the reindex module must be installed)');
    }
    if (status === 408 || status === 429 || status >= 500) return new TransientConnectorError(systemId, `Elasticsearch is unavailable (HTTP ${status}${type ? `, ${type}` : ''})`);
    // Elasticsearch echoes queries in some error reasons: pass the error type only.
    return nonRetryable(systemId, `Elasticsearch refused the request (HTTP ${status}${type ? `, ${type}` : ''})`);
  }
  if (err instanceof esErrors.ProductNotSupportedError) return nonRetryable(systemId, 'the server at the node URL is not Elasticsearch');
  if (err instanceof esErrors.ConnectionError || err instanceof esErrors.TimeoutError || err instanceof esErrors.NoLivingConnectionsError) {
    return new TransientConnectorError(systemId, `cannot reach Elasticsearch (${err.name})`);
  }
  const net = transientNetworkCode(err);
  if (net) return new TransientConnectorError(systemId, `cannot reach Elasticsearch (${net})`);
  return new TransientConnectorError(systemId, `Elasticsearch call failed (${(err as Error)?.name ?? 'error'})`);
}
