/**
 * How Elasticsearch's answers are classified: permanent (an operator must act) or transient (Temporal
 * retries, within the transient window of ../connector-kit.ts). A node that is starting, recovering its
 * indices or failing over answers with 503s, shard failures, cluster blocks and even a 404 for an index it
 * has not loaded yet: all transient. Only status codes and error types are passed on: Elasticsearch quotes
 * queries, and so identifiers, in some of its reasons.
 */
import { errors as esErrors } from '@elastic/elasticsearch';
import { TransientConnectorError, isNonRetryable, nonRetryable, transientNetworkCode } from '../connector-kit';

/** The answer of a cluster that does not serve an endpoint: 400 `{"error":"no handler found for uri [...] and method [...]"}`. */
export function isNoHandler(err: unknown): boolean {
  if (!(err instanceof esErrors.ResponseError) || err.statusCode !== 400) return false;
  const body = err.body as { error?: unknown } | undefined;
  return typeof body?.error === 'string' && /^no handler found for uri/i.test(body.error);
}

/**
 * Error types of a cluster that is starting, recovering or failing over: unassigned or relocating shards,
 * no elected master, a state not yet recovered (a cluster block), a node that dropped out, a full queue.
 */
const recoveringTypes = new Set([
  'no_shard_available_action_exception', 'unavailable_shards_exception', 'shard_not_found_exception', 'cluster_block_exception',
  'master_not_discovered_exception', 'not_master_exception', 'node_not_connected_exception', 'node_disconnected_exception',
  'node_closed_exception', 'connect_transport_exception', 'receive_timeout_transport_exception', 'process_cluster_event_timeout_exception',
  'primary_missing_action_exception', 'retry_on_primary_exception', 'es_rejected_execution_exception', 'circuit_breaking_exception',
  'index_shard_closed_exception', 'illegal_index_shard_state_exception', 'recovery_failed_exception', 'search_context_missing_exception',
]);

/** A bulk item error type that retrying cannot cure: the mapping refuses the operation. */
export function isPermanentItemError(type: string | undefined): boolean {
  return !!type && /mapp(er|ing)/i.test(type);
}

/**
 * The error for an index of the catalog that is not there (yet): transient, as a node still recovering it
 * answers so too; the transient window makes it permanent if it stays missing.
 * @example if (item.error?.type === 'index_not_found_exception') throw indexNotFound(systemId, index);
 */
export function indexNotFound(systemId: string, index: string): TransientConnectorError {
  return new TransientConnectorError(systemId, `index "${index}" not found (HTTP 404, index_not_found_exception): a node still recovering answers so too, or the index was deleted`);
}

interface EsErrorCause {
  type?: string;
  root_cause?: EsErrorCause[];
  caused_by?: EsErrorCause;
  failed_shards?: Array<{ reason?: EsErrorCause }>;
}

/** Every error type in an Elasticsearch error body: the error's own, its root causes, its chain of causes, its shards'. */
function typesOf(cause: EsErrorCause | undefined, depth = 0): string[] {
  if (!cause || typeof cause !== 'object' || depth > 5) return [];
  return [
    ...(typeof cause.type === 'string' ? [cause.type] : []),
    ...(cause.root_cause ?? []).flatMap((c) => typesOf(c, depth + 1)),
    ...typesOf(cause.caused_by, depth + 1),
    ...(cause.failed_shards ?? []).flatMap((f) => typesOf(f.reason, depth + 1)),
  ];
}

/**
 * Refuses an answer that some shards did not give (`_shards.failed` > 0): a search or count that skipped a
 * recovering shard under-counts, and a verification must never certify on it. Returns `res` otherwise.
 * @example const { count } = completeShards(system.id, await client.count({ index, query }));
 */
export function completeShards<T>(systemId: string, res: T): T {
  const shards = (res as { _shards?: { total?: number; failed?: number; failures?: Array<{ reason?: EsErrorCause }> } } | undefined)?._shards;
  if (shards && typeof shards.failed === 'number' && shards.failed > 0) {
    const types = [...new Set((shards.failures ?? []).flatMap((f) => typesOf(f.reason)))];
    throw new TransientConnectorError(systemId, `${shards.failed} of ${shards.total ?? '?'} shards failed to answer${types.length ? ` (${types.join(', ')})` : ''}: the answer would be incomplete`);
  }
  return res;
}

/** The error to throw for `err`, naming the system and the index. */
export function classify(systemId: string, index: string, err: unknown): Error {
  if (isNonRetryable(err) || err instanceof TransientConnectorError) return err as Error;
  if (err instanceof esErrors.ResponseError) {
    const status = err.statusCode ?? 0;
    const body = err.body as { error?: EsErrorCause | string } | undefined;
    const cause = typeof body?.error === 'object' ? body.error : undefined;
    const types = typesOf(cause);
    const type = cause ? (cause.root_cause?.[0]?.type ?? cause.type) : undefined;
    // Every index the connector names comes from the catalog: a 404 on it is a node that has not recovered it yet
    // (or an index deleted since), retried until the transient window says it lasted too long.
    if (types.includes('index_not_found_exception')) return indexNotFound(systemId, index);
    if (status === 401) return nonRetryable(systemId, 'Elasticsearch rejected the credentials (HTTP 401)');
    const recovering = types.find((t) => recoveringTypes.has(t));
    if (recovering) return new TransientConnectorError(systemId, `Elasticsearch is recovering or unavailable (HTTP ${status}, ${recovering})`);
    if (status === 403) return nonRetryable(systemId, `Elasticsearch denied access to "${index}" (HTTP 403, ${type ?? 'forbidden'})`);
    if (isNoHandler(err)) {
      return nonRetryable(systemId, 'this cluster does not serve the API the connector needs (no handler found; for _delete_by_query the reindex module must be installed)');
    }
    if (status === 404) return new TransientConnectorError(systemId, `Elasticsearch answered HTTP 404${type ? ` (${type})` : ''} for index "${index}": a node still recovering answers so too`);
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
