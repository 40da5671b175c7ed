/**
 * Elasticsearch connector: delete-by-query on a keyword field holding the identifier (ANDed with an
 * optional extra query), `conflicts=proceed`, refreshed at the end. The deletion runs as a server-side
 * task that the activity polls, heartbeating the task id and its progress; a retried attempt re-attaches
 * to the same task instead of starting over. Verification refreshes and counts.
 */
import { Client, errors as esErrors } from '@elastic/elasticsearch';
import { identifierValue, type EraseResult, type SubjectIdentifiers, type VerifyResult } from '../workflows/definitions';
import type { ElasticsearchSystem } from '../catalog/schema';
import type { SystemTask } from './types';
import type { CheckableConnector } from './connectors';
import {
  TransientConnectorError, attemptNumber, elapsed, evidenceHash, heartbeat, isNonRetryable, nonRetryable, pause, resumeFrom,
  throwIfCancelled, transientNetworkCode,
} from './errors';

export interface ElasticsearchConnectorOptions {
  /** Use this client instead of building one from the catalog entry (the connector will not close it). */
  client?: Client;
  /** Delete-by-query rounds when concurrent writes leave matches behind (version conflicts). */
  maxRounds?: number;
}

interface EsProgress {
  op: 'erase';
  /** The running delete-by-query task, when one was started and not yet collected. */
  taskId?: string;
  round: number;
  found: number;
  erased: number;
  conflicts: number;
  polls: number;
}

/** What the activity needs from a delete-by-query task's status or response. */
interface BulkByScrollStatus {
  total?: number;
  deleted?: number;
  version_conflicts?: number;
  batches?: number;
}

const esSpec = (task: SystemTask) => {
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

function classify(systemId: string, index: string, err: unknown): Error {
  if (isNonRetryable(err) || err instanceof TransientConnectorError) return err as Error;
  if (err instanceof esErrors.ResponseError) {
    const status = err.statusCode ?? 0;
    const body = err.body as { error?: { type?: string; root_cause?: { type?: string }[] } | string } | undefined;
    const type = typeof body?.error === 'object' ? (body.error.root_cause?.[0]?.type ?? body.error.type) : undefined;
    if (type === 'index_not_found_exception') return nonRetryable(systemId, `index "${index}" does not exist`);
    if (status === 401) return nonRetryable(systemId, 'Elasticsearch rejected the credentials (HTTP 401)');
    if (status === 403) return nonRetryable(systemId, `Elasticsearch denied access to "${index}" (HTTP 403, ${type ?? 'forbidden'})`);
    if (typeof body?.error === 'string' && /no handler found/i.test(body.error)) {
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

/**
 * Builds the connector for one Elasticsearch system.
 * @example const c = elasticsearchConnector(catalogEntry); await c.erase(task);
 */
export function elasticsearchConnector(system: ElasticsearchSystem, opts: ElasticsearchConnectorOptions = {}): CheckableConnector {
  let client = opts.client;
  const ownsClient = !client;
  const maxRounds = opts.maxRounds ?? 5;
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
      return await fn(getClient());
    } catch (err) {
      throw classify(system.id, index, err);
    }
  };

  const queryFor = (task: SystemTask): Record<string, unknown> | undefined => {
    const spec = esSpec(task);
    if (!spec.index || !spec.match?.field) throw nonRetryable(system.id, 'the plan snapshot has no index or match field');
    const value = identifierValue(task.subject as SubjectIdentifiers, spec.match.identifier);
    if (value === undefined || value === '') return undefined;
    return subjectQuery(spec.match.field, value, spec.query);
  };

  /**
   * A term query on a `text` field silently matches nothing (the value is split into tokens), and an
   * unmapped field matches nothing either: both would report a clean erasure that is not one.
   */
  async function checkField(index: string, field: string): Promise<string[]> {
    const mapping = await call(index, (c) => c.indices.getFieldMapping({ index, fields: field }));
    const types = Object.values(mapping)
      .map((m) => Object.values(m.mappings?.[field]?.mapping ?? {})[0] as { type?: string } | undefined)
      .filter((m): m is { type?: string } => m !== undefined)
      .map((m) => m.type);
    if (types.includes('text')) {
      throw nonRetryable(system.id, `field "${field}" is mapped as text; match on a keyword field (for example "${field}.keyword")`);
    }
    if (types.length === 0) {
      const { count } = await call(index, (c) => c.count({ index }));
      if (count > 0) throw nonRetryable(system.id, `field "${field}" is not mapped in "${index}"`);
    }
    return types.filter((t): t is string => typeof t === 'string');
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

  const evidence = (task: SystemTask) => {
    const spec = esSpec(task);
    return evidenceHash({
      system: system.id,
      kind: 'elasticsearch',
      subjectRef: task.subjectRef,
      index: spec.index,
      // The query's shape with the value left out.
      query: subjectQuery(spec.match.field, `{${spec.match.identifier}}`, spec.query),
      conflicts: 'proceed',
    });
  };

  return {
    async erase(task): Promise<EraseResult> {
      const started = Date.now();
      const spec = esSpec(task);
      const query = queryFor(task);
      const previous = resumeFrom<EsProgress>('erase');
      const progress: EsProgress = previous ? { ...previous } : { op: 'erase', round: 0, found: 0, erased: 0, conflicts: 0, polls: 0 };
      if (query) {
        await checkField(spec.index, spec.match.field);
        while (progress.round < maxRounds) {
          throwIfCancelled();
          if (!progress.taskId) {
            const res = await call(spec.index, (c) =>
              c.deleteByQuery({
                index: spec.index,
                query,
                conflicts: 'proceed',
                refresh: true,
                wait_for_completion: false,
                scroll_size: spec.scrollSize,
                requests_per_second: spec.requestsPerSecond ?? -1,
              }),
            );
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
      return {
        action: 'delete',
        found: progress.found,
        erased: progress.erased,
        evidenceHash: evidence(task),
        details: {
          durationMs: elapsed(started), rounds: progress.round, versionConflicts: progress.conflicts, polls: progress.polls,
          attempt: attemptNumber(), resumed: previous ? 1 : 0,
        },
      };
    },

    async verify(task): Promise<VerifyResult> {
      const query = queryFor(task);
      if (!query) return { remaining: 0 };
      return { remaining: await refreshAndCount(esSpec(task).index, query) };
    },

    async check() {
      const exists = await call(system.index, (c) => c.indices.exists({ index: system.index }));
      if (!exists) throw nonRetryable(system.id, `index "${system.index}" does not exist`);
      const types = [...new Set(await checkField(system.index, system.match.field))];
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
