/**
 * What an Elasticsearch erasure asks for, read from the request's plan snapshot (index, match, extra
 * clause, batching), the query that makes, what an attempt heartbeats, and how a receipt records which
 * method erased.
 */
import type { SystemTask } from '../../domain';
import type { ElasticsearchSystem } from './schema';

/** How documents are erased: server-side delete-by-query, or search + `_bulk` delete when the cluster lacks it. */
export type EsEraseMethod = 'delete_by_query' | 'bulk';

/** What an erase attempt heartbeats, whichever method it uses: a retried attempt resumes from it. */
export interface EsProgress {
  op: 'erase';
  /** Set once the method is known; a retried attempt keeps using it. */
  method?: EsEraseMethod;
  /** The running delete-by-query task, when one was started and not yet collected. */
  taskId?: string;
  round: number;
  found: number;
  erased: number;
  conflicts: number;
  polls: number;
}

/**
 * The plan snapshot's part of the erasure. Every plan carries the parsed entry with the schema's defaults
 * applied (plans from before the allow-list carried the whole entry, defaults included), so nothing is
 * defaulted here.
 */
export const esSpec = (task: SystemTask) =>
  task.system.spec as Pick<ElasticsearchSystem, 'index' | 'match' | 'query' | 'scrollSize' | 'requestsPerSecond' | 'pollIntervalMs'>;

/** The subject's documents: a term query on the identifier field, ANDed with the catalog's extra clause. */
export function subjectQuery(field: string, value: string, extra?: Record<string, unknown>): Record<string, unknown> {
  return { bool: { filter: [{ term: { [field]: value } }, ...(extra ? [extra] : [])] } };
}

/** The method an erase receipt's details record (`bulkFallback`: 1 or 0). */
export function eraseMethodOf(details: Record<string, number> | undefined): EsEraseMethod {
  return details?.bulkFallback === 1 ? 'bulk' : 'delete_by_query';
}
