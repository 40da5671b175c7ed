/**
 * What an Elasticsearch erasure asks for, read from the request's plan snapshot (index, match, extra
 * clause, batching), the query that makes, and how a receipt records which method erased.
 */
import type { SystemTask } from '../../activities/types';
import type { ElasticsearchSystem } from './schema';

/** How documents are erased: server-side delete-by-query, or search + `_bulk` delete when the cluster lacks it. */
export type EsEraseMethod = 'delete_by_query' | 'bulk';

/** The plan snapshot's part of the erasure, with the schema's defaults for plans that lack them. */
export const esSpec = (task: SystemTask) => {
  const spec = task.system.spec as Partial<ElasticsearchSystem>;
  return {
    index: spec.index as string,
    match: spec.match as ElasticsearchSystem['match'],
    query: spec.query,
    scrollSize: spec.scrollSize ?? 1000,
    requestsPerSecond: spec.requestsPerSecond,
    pollIntervalMs: spec.pollIntervalMs ?? 1000,
  };
};

/** The subject's documents: a term query on the identifier field, ANDed with the catalog's extra clause. */
export function subjectQuery(field: string, value: string, extra?: Record<string, unknown>): Record<string, unknown> {
  return { bool: { filter: [{ term: { [field]: value } }, ...(extra ? [extra] : [])] } };
}

/** The method an erase receipt's details record (`bulkFallback`: 1 or 0). */
export function eraseMethodOf(details: Record<string, number> | undefined): EsEraseMethod {
  return details?.bulkFallback === 1 ? 'bulk' : 'delete_by_query';
}
