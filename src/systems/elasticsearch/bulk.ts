/**
 * The Elasticsearch erasure for clusters without the reindex module (no `_delete_by_query`): core APIs
 * only. It counts, then repeatedly searches a batch of matching ids and deletes them with `_bulk`, each
 * delete conditional on the sequence number the search saw (as delete-by-query's `conflicts=proceed` is),
 * refreshing and heartbeating between rounds.
 */
import type { Client } from '@elastic/elasticsearch';
import { TransientConnectorError, elapsed, heartbeat, nonRetryable, pause, throwIfCancelled } from '../connector-kit';
import { indexNotFound, isPermanentItemError } from './failures';
import type { EsProgress } from './query';

/** What the fallback needs of its connector. */
export interface BulkContext {
  systemId: string;
  /** Runs one client call, its failure classified for `index`. */
  call<T>(index: string, fn: (c: Client) => Promise<T>): Promise<T>;
  /** Rounds allowed beyond the batches the initial count needs. */
  maxRounds: number;
}

/** How one batch should be asked of the cluster. */
export interface BulkBatch {
  index: string;
  query: Record<string, unknown>;
  /** Documents per search (the catalog's `scrollSize`). */
  size: number;
  /** Throttle in documents per second; unthrottled when absent. */
  requestsPerSecond?: number;
}

/** One search hit, as much of it as a conditional delete needs. */
interface Hit {
  _index: string;
  _id?: string;
  _routing?: string;
  _seq_no?: number;
  _primary_term?: number;
}

/** A conditional delete for each hit: a document rewritten since the search is skipped, not deleted. */
function deletesFor(hits: Hit[]) {
  return hits.map((h) => ({
    delete: {
      _index: h._index,
      _id: h._id!,
      ...(h._routing !== undefined ? { routing: h._routing } : {}),
      ...(typeof h._seq_no === 'number' && typeof h._primary_term === 'number' ? { if_seq_no: h._seq_no, if_primary_term: h._primary_term } : {}),
    },
  }));
}

/** What one `_bulk` answer says: documents deleted, version conflicts, and the error types of failed items. */
function tally(ctx: BulkContext, index: string, items: Array<{ delete?: { status: number; result?: string; error?: { type?: string } } }>) {
  let deleted = 0;
  let conflicts = 0;
  const failed: string[] = [];
  for (const item of items) {
    const r = item.delete;
    if (!r) continue;
    if (r.status >= 200 && r.status < 300 && r.result === 'deleted') deleted++;
    else if (r.status === 404 && (r.result === 'not_found' || !r.error)) continue; // already gone
    else if (r.status === 409 && r.error?.type === 'version_conflict_engine_exception') conflicts++;
    else if (r.error?.type === 'index_not_found_exception') throw indexNotFound(ctx.systemId, index);
    else if (isPermanentItemError(r.error?.type)) {
      // Only the error type: reasons can quote document ids and values.
      throw nonRetryable(ctx.systemId, `Elasticsearch refused a bulk delete (${r.error?.type})`);
    } else failed.push(r.error?.type ?? `HTTP ${r.status}`);
  }
  return { deleted, conflicts, failed };
}

/**
 * Erases by search + `_bulk` (`_doc` order, no source) until a search finds nothing, updating and
 * heartbeating `progress` after every round. A `resumed` attempt keeps the first attempt's count as
 * `found`. Bounded by the batches the count needs plus `ctx.maxRounds`; beyond that it throws a retryable error.
 * @example await eraseByBulk({ systemId, call, maxRounds: 5 }, { index, query, size: 1000 }, progress, false);
 */
export async function eraseByBulk(ctx: BulkContext, batch: BulkBatch, progress: EsProgress, resumed: boolean): Promise<void> {
  const { index, query, size, requestsPerSecond: rps } = batch;
  progress.method = 'bulk';
  progress.taskId = undefined;
  await ctx.call(index, (c) => c.indices.refresh({ index }));
  const { count } = await ctx.call(index, (c) => c.count({ index, query }));
  // A resumed attempt keeps the first attempt's count as `found`; the bound follows what is left now.
  if (!resumed) progress.found = count;
  heartbeat(progress);
  const limit = Math.ceil(count / size) + ctx.maxRounds;
  for (let rounds = 0; ; rounds++) {
    throwIfCancelled();
    const roundStarted = Date.now();
    const res = await ctx.call(index, (c) =>
      c.search({ index, query, sort: ['_doc'], size, _source: false, seq_no_primary_term: true, track_total_hits: false }),
    );
    const hits = res.hits.hits.filter((h) => typeof h._id === 'string');
    if (hits.length === 0) return;
    if (rounds >= limit) {
      throw new TransientConnectorError(ctx.systemId, `matching documents remain after ${rounds} bulk rounds (${count} counted at the start); will retry`);
    }
    const bulk = await ctx.call(index, (c) => c.bulk({ operations: deletesFor(hits) }));
    const { deleted, conflicts, failed } = tally(ctx, index, bulk.items);
    progress.erased += deleted;
    progress.conflicts += conflicts;
    progress.round++;
    if (failed.length) {
      heartbeat(progress);
      throw new TransientConnectorError(ctx.systemId, `bulk delete failed for ${failed.length} documents (${[...new Set(failed)].join(', ')}); will retry`);
    }
    await ctx.call(index, (c) => c.indices.refresh({ index }));
    heartbeat(progress);
    if (rps && rps > 0) await pause(Math.max(0, (hits.length / rps) * 1000 - elapsed(roundStarted)));
  }
}
