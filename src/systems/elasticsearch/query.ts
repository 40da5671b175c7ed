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

/**
 * Documents whose match field holds some value other than `value`: a keyword field is compared byte for
 * byte, so any other value sorts below or above it (a range query matches when any one value of a
 * multi-valued field does). A value too long to be indexed (`ignore_above`) is invisible to both, but
 * Elasticsearch names the field in the document's `_ignored` metadata; such a document cannot be shown to
 * be the subject's alone, so it counts as shared too. Pure query DSL: no script, so no painless needed.
 */
function otherValues(field: string, value: string): Record<string, unknown> {
  return {
    bool: {
      should: [{ range: { [field]: { lt: value } } }, { range: { [field]: { gt: value } } }, { term: { _ignored: field } }],
      minimum_should_match: 1,
    },
  };
}

/**
 * The subject's documents: a term query on the identifier field, ANDed with the catalog's extra clause,
 * leaving out documents whose field also holds another value (they are someone else's too: see
 * `sharedQuery`). The same value repeated is still the subject's alone.
 * @example subjectQuery('user_id', 'u-1') // matches { user_id: 'u-1' } and ['u-1', 'u-1'], not ['u-1', 'u-2']
 */
export function subjectQuery(field: string, value: string, extra?: Record<string, unknown>): Record<string, unknown> {
  return { bool: { filter: [{ term: { [field]: value } }, ...(extra ? [extra] : [])], must_not: [otherValues(field, value)] } };
}

/**
 * The documents that name the subject but also someone else (or a value the index skipped): kept, and
 * counted in the receipt's `details.shared`.
 * @example await client.count({ index, query: sharedQuery('user_id', 'u-1') });
 */
export function sharedQuery(field: string, value: string, extra?: Record<string, unknown>): Record<string, unknown> {
  return { bool: { filter: [{ term: { [field]: value } }, otherValues(field, value), ...(extra ? [extra] : [])] } };
}

/** The method an erase receipt's details record (`bulkFallback`: 1 or 0). */
export function eraseMethodOf(details: Record<string, number> | undefined): EsEraseMethod {
  return details?.bulkFallback === 1 ? 'bulk' : 'delete_by_query';
}
