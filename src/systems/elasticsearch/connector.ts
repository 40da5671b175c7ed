/**
 * Elasticsearch connector: delete-by-query on a keyword field holding the identifier (ANDed with an
 * optional extra query), `conflicts=proceed`, refreshed at the end. A document whose field also holds
 * another value is someone else's too: it is kept and counted in the receipt (`details.shared`,
 * ./query.ts). The deletion runs as a server-side task that the activity polls, heartbeating the task id
 * and its progress; a retried attempt re-attaches to the same task instead of starting over. Verification refreshes and counts,
 * for e-mails in every spelling (case, blanks around), so a copy the exact erase cannot see is remaining.
 *
 * Clusters without the reindex module (which serves `_delete_by_query`) answer 400 "no handler found";
 * the connector then erases with core APIs only, by search + `_bulk` (./bulk.ts). It remembers that the
 * cluster lacks the module, so later erasures go straight to the fallback.
 */
import { Client, errors as esErrors } from '@elastic/elasticsearch';
import { identifierValues, type EraseResult, type SystemPreview, type SystemTask, type VerifyResult } from '../../domain';
import type { ElasticsearchSystem } from './schema';
import {
  type CheckableConnector, TransientConnectorError, attemptNumber, elapsed, evidenceFor, heartbeat, nonRetryable, pause, resumeFrom, throwIfCancelled,
} from '../connector-kit';
import { eraseByBulk, type BulkContext } from './bulk';
import { checkField, checkValue } from './field';
import { classify, completeShards, isNoHandler } from './failures';
import { emailSpelling, esSpec, sharedQuery, spellingsAggregation, subjectQuery, variantsQuery, type EsEraseMethod, type EsProgress } from './query';

export { eraseMethodOf, sharedQuery, subjectQuery, variantsQuery, type EsEraseMethod } from './query';

export interface ElasticsearchConnectorOptions {
  /** Use this client instead of building one from the catalog entry (the connector will not close it). */
  client?: Client;
  /**
   * Delete-by-query rounds when concurrent writes leave matches behind (version conflicts). The bulk
   * fallback allows this many rounds beyond the batches its initial count needs.
   */
  maxRounds?: number;
}

/** The subject's values and the queries made of them (./query.ts). */
interface SubjectQueries {
  values: string[];
  own: Record<string, unknown>;
  shared: Record<string, unknown>;
  /** E-mails only: every spelling verification counts (`variantsQuery`). */
  variants?: Record<string, unknown>;
}

/** What the activity needs from a delete-by-query task's status or response. */
interface BulkByScrollStatus {
  total?: number;
  deleted?: number;
  version_conflicts?: number;
  batches?: number;
}

/**
 * Builds the connector for one Elasticsearch system.
 * @example const c = elasticsearchConnector(catalogEntry); await c.erase(task);
 */
export function elasticsearchConnector(system: ElasticsearchSystem, opts: ElasticsearchConnectorOptions = {}): CheckableConnector {
  let client = opts.client;
  const ownsClient = !client;
  const maxRounds = opts.maxRounds ?? 5;
  /** Set when the cluster answered that it has no `_delete_by_query` handler; kept for the connector's life. */
  let deleteByQueryMissing = false;
  const getClient = () =>
    (client ??= new Client({
      node: system.node,
      auth: system.apiKey ? { apiKey: system.apiKey } : system.username ? { username: system.username, password: system.password ?? '' } : undefined,
      requestTimeout: system.requestTimeoutMs,
      // Temporal owns retries; one quick client retry covers a dropped keep-alive socket.
      maxRetries: 1,
    }));

  const call = async <T>(index: string, fn: (c: Client) => Promise<T>): Promise<T> => {
    try {
      // A search or count some shards skipped (still recovering) would under-count: refused as transient.
      return completeShards(system.id, await fn(getClient()));
    } catch (err) {
      throw classify(system.id, index, err);
    }
  };
  const bulk: BulkContext = { systemId: system.id, call, maxRounds };

  /**
   * The subject's values (the request's own, or those other systems derived), checked against the mapping,
   * and the queries made of them: the subject's own documents, the ones shared with others, and, for
   * e-mails, every spelling verification looks for. `undefined` when the subject has no such identifier.
   */
  async function queriesFor(task: SystemTask): Promise<SubjectQueries | undefined> {
    const spec = esSpec(task);
    if (!spec.index || !spec.match?.field) throw nonRetryable(system.id, 'the plan snapshot has no index or match field');
    const { index, match: { field, identifier }, query: extra } = spec;
    const values = identifierValues(task.subject, identifier, task.derived);
    if (values.length === 0) return undefined;
    await checkMatch(index, field, values);
    if (identifier !== 'email') return { values, own: subjectQuery(field, values, extra), shared: sharedQuery(field, values, extra) };
    const allowed = [...values, ...(await spellingsOf(index, field, values, extra))];
    return { values, own: subjectQuery(field, values, extra, allowed), shared: sharedQuery(field, values, extra, allowed), variants: variantsQuery(field, values) };
  }

  /**
   * The subject's e-mails in other spellings (case, blanks around) that documents naming the subject exactly
   * also hold: such a document is the subject's alone, not shared. Only the first 1,000 spellings are
   * learnt; a document holding one beyond them stays shared (kept), never deleted.
   */
  async function spellingsOf(index: string, field: string, values: string[], extra: Record<string, unknown> | undefined): Promise<string[]> {
    await call(index, (c) => c.indices.refresh({ index }));
    const res = await call(index, (c) => c.search({ index, size: 0, query: sharedQuery(field, values, extra), aggs: spellingsAggregation(field, values) }));
    const buckets = (res.aggregations?.spellings as { buckets?: Array<{ key: unknown }> } | undefined)?.buckets ?? [];
    const own = new Set(values.map(emailSpelling));
    return buckets.map((b) => String(b.key)).filter((key) => !values.includes(key) && own.has(emailSpelling(key)));
  }

  /** Refuses a match field (and, given them, subject values) that the term query would not match exactly: ./field.ts. */
  async function checkMatch(index: string, field: string, values: string[] = []): Promise<string[]> {
    const facts = await checkField(system.id, call, index, field);
    for (const value of values) checkValue(system.id, field, facts, value);
    return facts.types;
  }

  /** What verification counts: every spelling of the subject's e-mails (the exact values otherwise), shared documents aside. */
  const remainingQuery = (task: SystemTask, q: SubjectQueries): Record<string, unknown> => {
    const extra = esSpec(task).query;
    return q.variants ? { bool: { filter: [q.variants, ...(extra ? [extra] : [])], must_not: [q.shared] } } : q.own;
  };

  /** Documents matching `query`, per concrete index (`index` may be an alias or a pattern). */
  async function countPerIndex(index: string, query: Record<string, unknown>): Promise<Map<string, number>> {
    const res = await call(index, (c) => c.search({ index, size: 0, query, aggs: { perIndex: { terms: { field: '_index', size: 10_000 } } } }));
    const buckets = (res.aggregations?.perIndex as { buckets?: Array<{ key: unknown; doc_count: number }> } | undefined)?.buckets ?? [];
    return new Map(buckets.map((b) => [String(b.key), b.doc_count]));
  }

  async function refreshAndCount(index: string, query: Record<string, unknown>): Promise<number> {
    await call(index, (c) => c.indices.refresh({ index }));
    const { count } = await call(index, (c) => c.count({ index, query }));
    return count;
  }

  /** Polls a task until it completes, heartbeating its status. `undefined`: the task is gone (node restart). */
  async function awaitTask(index: string, progress: EsProgress, pollMs: number): Promise<(BulkByScrollStatus & { failures?: unknown[] }) | undefined> {
    const taskId = progress.taskId!;
    for (;;) {
      let res: { completed: boolean; task: { status?: unknown }; response?: unknown; error?: unknown };
      try {
        res = (await getClient().tasks.get({ task_id: taskId })) as typeof res;
      } catch (err) {
        if (err instanceof esErrors.ResponseError && err.statusCode === 404) return undefined;
        throw classify(system.id, index, err);
      }
      if (res.completed) {
        if (res.error) throw new TransientConnectorError(system.id, 'the delete-by-query task failed; will retry');
        return res.response as BulkByScrollStatus & { failures?: unknown[] };
      }
      const status = (res.task.status ?? {}) as BulkByScrollStatus;
      progress.polls++;
      heartbeat({ ...progress, running: { total: status.total ?? 0, deleted: status.deleted ?? 0, batches: status.batches ?? 0 } });
      try {
        await pause(pollMs);
      } catch (cancelled) {
        // The activity was cancelled: stop the server-side deletion too (best effort), then give up.
        await getClient().tasks.cancel({ task_id: taskId }).catch(() => undefined);
        throw cancelled;
      }
    }
  }

  /** The task's stored result keeps its description, which quotes the query and so the identifier. */
  async function forgetTask(taskId: string): Promise<void> {
    await getClient()
      .delete({ index: '.tasks', id: taskId }, { ignore: [404] })
      .catch(() => undefined);
  }

  const evidence = (task: SystemTask, method: EsEraseMethod) => {
    const spec = esSpec(task);
    return evidenceFor(system, task, {
      index: spec.index,
      // The query's shape with the value left out.
      query: subjectQuery(spec.match.field, `{${spec.match.identifier}}`, spec.query),
      // Documents shared with another subject are kept: the evidence says which query counted them.
      shared: sharedQuery(spec.match.field, `{${spec.match.identifier}}`, spec.query),
      conflicts: 'proceed',
      // Left out for delete-by-query: the two methods' evidence differs only where they do.
      method: method === 'bulk' ? 'bulk' : undefined,
    });
  };

  return {
    async erase(task): Promise<EraseResult> {
      const started = Date.now();
      const spec = esSpec(task);
      const queries = await queriesFor(task);
      const query = queries?.own;
      const previous = resumeFrom<EsProgress>('erase');
      const progress: EsProgress = previous ? { ...previous } : { op: 'erase', round: 0, found: 0, erased: 0, conflicts: 0, polls: 0 };
      // Which method this connector uses on this cluster (also reported when there was nothing to match).
      const methodNow = (): EsEraseMethod => progress.method ?? (deleteByQueryMissing ? 'bulk' : 'delete_by_query');
      if (query) {
        const batch = { index: spec.index, query, size: spec.scrollSize, requestsPerSecond: spec.requestsPerSecond };
        if (deleteByQueryMissing || progress.method === 'bulk') {
          await eraseByBulk(bulk, batch, progress, progress.method === 'bulk');
        }
        while (progress.method !== 'bulk' && progress.round < maxRounds) {
          throwIfCancelled();
          if (!progress.taskId) {
            let res: { task?: unknown };
            try {
              res = await getClient().deleteByQuery({
                index: spec.index,
                query,
                conflicts: 'proceed',
                refresh: true,
                wait_for_completion: false,
                scroll_size: spec.scrollSize,
                requests_per_second: spec.requestsPerSecond ?? -1,
              });
            } catch (err) {
              if (!isNoHandler(err)) throw classify(system.id, spec.index, err);
              // No reindex module on this cluster: nothing was deleted; erase with core APIs instead.
              deleteByQueryMissing = true;
              await eraseByBulk(bulk, batch, progress, false);
              break;
            }
            progress.method = 'delete_by_query';
            if (!res.task) throw new TransientConnectorError(system.id, 'delete-by-query did not return a task id');
            progress.taskId = String(res.task);
            heartbeat(progress);
          }
          const taskId = progress.taskId;
          const result = await awaitTask(spec.index, progress, spec.pollIntervalMs);
          progress.taskId = undefined;
          if (result) {
            progress.found += result.total ?? 0;
            progress.erased += result.deleted ?? 0;
            progress.conflicts += result.version_conflicts ?? 0;
            await forgetTask(taskId);
          }
          progress.round++;
          heartbeat(progress);
          if (result?.failures?.length) throw new TransientConnectorError(system.id, `delete-by-query reported ${result.failures.length} failures; will retry`);
          // Documents rewritten during the run are skipped (conflicts=proceed); another round takes them.
          if (result && (result.version_conflicts ?? 0) === 0) break;
          if ((await refreshAndCount(spec.index, query)) === 0) break;
        }
      }
      const method = methodNow();
      // Kept on purpose (they are someone else's too), so reported rather than erased.
      const shared = queries ? await refreshAndCount(spec.index, queries.shared) : 0;
      return {
        action: 'delete',
        found: progress.found,
        erased: progress.erased,
        evidenceHash: evidence(task, method),
        details: {
          // Receipt details are numbers: 1 = erased by search + _bulk, 0 = by _delete_by_query (see eraseMethodOf).
          bulkFallback: method === 'bulk' ? 1 : 0, durationMs: elapsed(started), rounds: progress.round, versionConflicts: progress.conflicts, polls: progress.polls,
          attempt: attemptNumber(), resumed: previous ? 1 : 0, shared,
        },
      };
    },

    async verify(task): Promise<VerifyResult> {
      // The same refusals as erase (inside queriesFor): a count on a coerced or tokenised field says nothing about the subject.
      const queries = await queriesFor(task);
      if (!queries) return { remaining: 0 };
      // Wider than erase for e-mails (any case, blanks around), so a copy the exact erase missed is remaining.
      // Shared documents are kept on purpose (the erase receipt counts them): they do not remain to erase.
      return { remaining: await refreshAndCount(esSpec(task).index, remainingQuery(task, queries)) };
    },

    async preview(task): Promise<SystemPreview> {
      const { index, match } = esSpec(task);
      const queries = await queriesFor(task);
      if (!queries) {
        return { entries: [{ target: index, delete: 0, anonymize: 0, shared: 0 }], note: `the subject has no ${match.identifier} (neither given nor derived): nothing is matched` };
      }
      await call(index, (c) => c.indices.refresh({ index }));
      const [own, shared] = [await countPerIndex(index, queries.own), await countPerIndex(index, queries.shared)];
      const names = [...new Set([...own.keys(), ...shared.keys()])].sort();
      const entries = (names.length ? names : [index]).map((target) => ({ target, delete: own.get(target) ?? 0, anonymize: 0, shared: shared.get(target) ?? 0 }));
      if (!queries.variants) return { entries };
      // Copies in another spelling only: erase (exact) leaves them, verify reports them; an operator should know now.
      const { count: wide } = await call(index, (c) => c.count({ index, query: remainingQuery(task, queries) }));
      const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
      const variants = wide - sum(own);
      return variants > 0
        ? { entries, note: `${variants} documents hold the subject's e-mail only in another spelling (case or blanks): erase leaves them and verify reports them as remaining` }
        : { entries };
    },

    async check() {
      const exists = await call(system.index, (c) => c.indices.exists({ index: system.index }));
      if (!exists) throw nonRetryable(system.id, `index "${system.index}" does not exist`);
      const types = [...new Set(await checkMatch(system.index, system.match.field))];
      const { count } = await call(system.index, (c) => c.count({ index: system.index }));
      const field = types.length ? `field "${system.match.field}" is ${types.join('/')}` : `field "${system.match.field}" not mapped yet`;
      return `index "${system.index}" reachable (${count} documents), ${field}`;
    },

    async close() {
      if (ownsClient) await client?.close();
      client = undefined;
    },
  };
}
