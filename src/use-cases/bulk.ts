/**
 * Bulk operator actions: one signal (confirm a system, retry a system, extend the deadline) sent to many
 * requests at once through a Temporal batch operation, each recorded on its request as if sent alone.
 *
 * The selection (a visibility query, filters on the search attributes, or a list of request ids) is listed
 * through visibility first. A dry run stops there and answers the count and the first ids. Otherwise the
 * batch is recorded in the ledger (who, which signal and target, the query, the requests it matched), then
 * Temporal's `StartBatchOperation` signals exactly those workflows: the explicit list, not the query again,
 * because visibility is eventually consistent and a second reading could reach a request the ledger does
 * not hold in the batch (whose claim would then be rejected) or miss one it does. The signal's payload
 * carries one batch claim (src/attestation) naming the batch; the workflow keeps it, and the ledger writer
 * and the certificate issuer accept it only on the requests the recorded batch holds.
 */
import { randomUUID } from 'node:crypto';
import { encodeToPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import {
  attestedFields,
  bulkBatchIdPattern,
  erasureStatuses,
  formatIssues,
  jurisdictionSchema,
  operatorActionSchemas,
  requestIdOf,
  workflowIdFor,
  type AttestedFields,
  type OperatorActionName,
} from '../domain';
import { id as catalogIdSchema } from '../systems/fields';
import { ERASURE_WORKFLOW_TYPE, ErasureJurisdictionKey, ErasurePendingSystemsKey, ErasureStatusKey } from '../workflows/definitions';
import { UseCaseError } from './errors';
import type { UseCaseDeps } from './types';

/** The bulk actions, by the name the CLI and the API use, with the signal each sends. */
export const bulkActions = { confirm: 'confirmDeletion', retry: 'retrySystem', extend: 'extendDeadline' } as const satisfies Record<string, OperatorActionName>;
export type BulkAction = keyof typeof bulkActions;

/** Most requests one bulk action may reach; a larger selection is refused (narrow it, or send several). */
export const MAX_BULK_REQUESTS = 10_000;
/** Longest raw visibility query a selection may carry. */
export const MAX_BULK_QUERY_LENGTH = 2_000;
/** How many request ids a dry run (and the answer to a started batch) shows. */
export const BULK_SAMPLE_SIZE = 20;
/** Request ids per visibility query when a list of ids is resolved (keeps each query short). */
const IDS_PER_QUERY = 200;
/** Every bulk selection is AND-ed with this: open erasures only. */
export const OPEN_ERASURES = `WorkflowType = '${ERASURE_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;

const requestId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');

/** Which requests a bulk action goes to: every criterion given must hold (AND); at least one is required. */
export const bulkSelectionSchema = z
  .strictObject({
    query: z
      .string()
      .trim()
      .min(1)
      .max(MAX_BULK_QUERY_LENGTH)
      .optional()
      .describe(`A Temporal visibility query, AND-ed with ${OPEN_ERASURES}`),
    status: z.enum(erasureStatuses).optional().describe('ErasureStatus'),
    pendingSystem: catalogIdSchema.optional().describe('A system in ErasurePendingSystems'),
    jurisdiction: jurisdictionSchema.optional().describe('ErasureJurisdiction'),
    requests: z.array(requestId).min(1).max(MAX_BULK_REQUESTS).optional().describe('Request ids (a ticket\'s list); only the open ones are reached'),
  })
  .refine((s) => s.query !== undefined || s.status !== undefined || s.pendingSystem !== undefined || s.jurisdiction !== undefined || s.requests !== undefined, {
    message: 'choose the requests: a query, a filter (status, pendingSystem, jurisdiction) or a list of request ids',
  });
export type BulkSelection = z.output<typeof bulkSelectionSchema>;

/** What a dry run answers, and a started batch too: how many open requests the selection reaches, and the first ones. */
export interface BulkMatch {
  count: number;
  sample: string[];
  /** Listed request ids that are not open erasures the ledger received (unknown, closed, queued): not reached. */
  unmatched?: { count: number; sample: string[] };
}

/** A started batch. */
export interface BulkStarted extends BulkMatch {
  batchId: string;
}

/** A batch as `GET /bulk/:batchId` shows it: the ledger's record, Temporal's progress, the outcomes recorded so far. */
export interface BulkBatchView {
  batchId: string;
  action: string;
  actor: string;
  target: AttestedFields;
  query: string;
  createdAt: string;
  count: number;
  /** `running`, `completed` or `failed` (Temporal's batch state); `not_started` when Temporal refused it. */
  state: 'running' | 'completed' | 'failed' | 'not_started' | 'unknown';
  /** Signals delivered, and not delivered (the workflow had closed meanwhile), as Temporal counts them. */
  signalled: { total: number; completed: number; failed: number };
  /** What the requests' workflows made of the action, as their trails record it (they trail by seconds). */
  recorded: { accepted: number; refused: number };
  startError?: string;
  closedAt?: string;
}

/** gRPC status codes Temporal answers with. */
const GRPC = { invalidArgument: 3, notFound: 5, alreadyExists: 6, resourceExhausted: 8, failedPrecondition: 9 } as const;
const codeOf = (err: unknown) => (err as { code?: unknown })?.code;
/** Temporal's own words, without the gRPC prefix ("3 INVALID_ARGUMENT: …"). */
const temporalMessage = (err: unknown) => String((err as { details?: unknown })?.details || (err as Error)?.message || err).replace(/^\d+ [A-Z_]+: /, '');

/**
 * Refuses a raw query that could escape the parentheses it is wrapped in (`x) OR (y`), by balance outside
 * quoted strings; Temporal parses the rest and says what it dislikes.
 */
function checkQuery(query: string): void {
  let depth = 0;
  let quote: string | undefined;
  for (const ch of query) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) break;
  }
  if (depth !== 0 || quote) throw new UseCaseError('invalid', 'selection.query: unbalanced parentheses or quotes');
}

/** The visibility query of a selection, without the listed ids (those go in chunks). */
function selectionQuery(s: BulkSelection): string {
  const clauses = [OPEN_ERASURES];
  // Each value passed its closed list or pattern (no quotes can occur); the raw query is the caller's own.
  if (s.status !== undefined) clauses.push(`${ErasureStatusKey.name} = '${s.status}'`);
  if (s.pendingSystem !== undefined) clauses.push(`${ErasurePendingSystemsKey.name} = '${s.pendingSystem}'`);
  if (s.jurisdiction !== undefined) clauses.push(`${ErasureJurisdictionKey.name} = '${s.jurisdiction}'`);
  if (s.query !== undefined) {
    checkQuery(s.query);
    clauses.push(`(${s.query})`);
  }
  return clauses.join(' AND ');
}

/** The open erasure workflows a query lists (request id → workflow id), refusing more than the limit. */
async function listOpen(deps: UseCaseDeps, query: string, into: Map<string, string>): Promise<void> {
  let nextPageToken: Uint8Array | undefined;
  do {
    let resp;
    try {
      resp = await deps.client.connection.withDeadline(Date.now() + (deps.timeouts?.listMs ?? 10_000), () =>
        deps.client.connection.workflowService.listWorkflowExecutions({ namespace: deps.namespace, query, pageSize: 1000, nextPageToken }),
      );
    } catch (err) {
      if (codeOf(err) === GRPC.invalidArgument) throw new UseCaseError('invalid', `Temporal refused the selection's query: ${temporalMessage(err)}`, {}, { cause: err });
      throw new UseCaseError('unavailable', 'Temporal visibility did not answer; try again', {}, { cause: err });
    }
    for (const e of resp.executions ?? []) {
      const workflowId = e.execution?.workflowId ?? '';
      // The query is AND-ed with the same conditions; checked again here so that no query, however written, reaches other workflows.
      if (e.type?.name !== ERASURE_WORKFLOW_TYPE || e.status !== temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) continue;
      const id = requestIdOf(workflowId);
      if (workflowIdFor(id) !== workflowId) continue;
      into.set(id, workflowId);
    }
    if (into.size > MAX_BULK_REQUESTS) {
      throw new UseCaseError('invalid', `the selection matches more than ${MAX_BULK_REQUESTS} open requests; narrow it (or send several bulk actions)`);
    }
    nextPageToken = resp.nextPageToken?.length ? resp.nextPageToken : undefined;
  } while (nextPageToken);
}

/** Lists the selection's open requests the ledger received, sorted, and the listed ids it does not reach. */
async function resolve(deps: UseCaseDeps, selection: BulkSelection): Promise<{ query: string; ids: string[]; unmatched?: string[] }> {
  const batches = requireBatches(deps);
  const query = selectionQuery(selection);
  const found = new Map<string, string>();
  if (selection.requests === undefined) await listOpen(deps, query, found);
  else {
    const listed = [...new Set(selection.requests)];
    for (let i = 0; i < listed.length; i += IDS_PER_QUERY) {
      const chunk = listed.slice(i, i + IDS_PER_QUERY).map((id) => `'${workflowIdFor(id)}'`);
      await listOpen(deps, `${query} AND WorkflowId IN (${chunk.join(', ')})`, found);
    }
  }
  let received: Set<string>;
  try {
    received = await batches.received(found);
  } catch (err) {
    throw new UseCaseError('unavailable', 'the ledger did not answer; try again', {}, { cause: err });
  }
  const ids = [...received].sort();
  const recordedQuery = selection.requests === undefined ? query : `${query} AND WorkflowId IN (<${selection.requests.length} listed request ids>)`;
  if (selection.requests === undefined) return { query: recordedQuery, ids };
  return { query: recordedQuery, ids, unmatched: [...new Set(selection.requests)].filter((id) => !received.has(id)).sort() };
}

function requireBatches(deps: UseCaseDeps): NonNullable<UseCaseDeps['batches']> {
  if (!deps.batches) throw new UseCaseError('unavailable', 'bulk actions are not configured in this process (no ledger batches)');
  return deps.batches;
}

const matchOf = (ids: string[], unmatched?: string[]): BulkMatch => ({
  count: ids.length,
  sample: ids.slice(0, BULK_SAMPLE_SIZE),
  ...(unmatched ? { unmatched: { count: unmatched.length, sample: unmatched.slice(0, BULK_SAMPLE_SIZE) } } : {}),
});

/**
 * The payload validated by the signal's own schema (unknown fields, a `claim` among them, are dropped). A bulk
 * confirmation without `confirmedBy` is noted as confirmed by the key itself.
 */
function validPayload(action: BulkAction, payload: unknown, actor?: string): Record<string, unknown> {
  const given = action === 'confirm' && payload !== null && typeof payload === 'object' && (payload as { confirmedBy?: unknown }).confirmedBy === undefined
    ? { ...payload, confirmedBy: actor ?? 'bulk action' }
    : payload;
  const parsed = operatorActionSchemas[bulkActions[action]].safeParse(given);
  if (!parsed.success) throw new UseCaseError('invalid', formatIssues(parsed.error, { prefix: 'payload' }));
  return parsed.data as Record<string, unknown>;
}

/**
 * How many open requests a bulk action would reach, and the first ids; sends nothing.
 * @example const { count, sample } = await bulkDryRun(deps, 'retry', { status: 'needs_attention', pendingSystem: 'crm' }, { system: 'crm' });
 */
export async function bulkDryRun(deps: UseCaseDeps, action: BulkAction, selection: BulkSelection, payload: unknown, actor?: string): Promise<BulkMatch> {
  validPayload(action, payload, actor);
  const { ids, unmatched } = await resolve(deps, selection);
  return matchOf(ids, unmatched);
}

/**
 * Records the batch in the ledger and starts it as a Temporal batch signal on behalf of the API key `actor`.
 * `invalid` for a bad selection or payload (Temporal's parse error included), `conflict` when it reaches no
 * open request, `busy` when Temporal runs as many batches as it allows at once, `unavailable` when Temporal
 * or the ledger does not answer.
 * @example const { batchId, count } = await startBulk(deps, 'confirm', { requests: ids }, { system: 'crm', confirmedBy: 'crm-team', reference: 'T-123' }, 'crm-clerk');
 */
export async function startBulk(deps: UseCaseDeps, action: BulkAction, selection: BulkSelection, payload: unknown, actor: string): Promise<BulkStarted> {
  const signal = bulkActions[action];
  const body = validPayload(action, payload, actor);
  const batches = requireBatches(deps);
  if (!deps.attestor) throw new UseCaseError('unavailable', 'bulk actions need the attestor (the engine master key) in this process');
  const { query, ids, unmatched } = await resolve(deps, selection);
  if (ids.length === 0) throw new UseCaseError('conflict', 'the selection reaches no open erasure request; nothing was sent');

  const batchId = `bulk-${randomUUID()}`;
  const createdAt = new Date();
  const fields = attestedFields(body);
  const claim = deps.attestor.claimBatch({ batchId, signal, fields }, actor, createdAt);
  try {
    await batches.record({ batchId, actor, signal, fields, query, requestIds: ids, createdAt });
  } catch (err) {
    throw new UseCaseError('unavailable', 'the ledger did not record the batch; nothing was sent, try again', {}, { cause: err });
  }
  // Without a serialization context the codec seals the payload with the engine's default key, which every
  // worker holds; it carries no identifier of any subject, only the operator's target and notes.
  const input = await encodeToPayloads(deps.client.options.loadedDataConverter, { ...body, claim });
  try {
    await deps.client.connection.withDeadline(Date.now() + (deps.timeouts?.actionMs ?? 10_000), () =>
      deps.client.connection.workflowService.startBatchOperation({
        namespace: deps.namespace,
        jobId: batchId,
        reason: `bulk ${signal} by API key "${actor}" to ${ids.length} requests`,
        executions: ids.map((id) => ({ workflowId: workflowIdFor(id) })),
        signalOperation: { signal, input: { payloads: input }, identity: `erasure-api bulk: ${actor}` },
      }),
    );
  } catch (err) {
    const code = codeOf(err);
    const refused = code === GRPC.resourceExhausted || code === GRPC.failedPrecondition || code === GRPC.alreadyExists || code === GRPC.invalidArgument;
    // Only a refusal is certain to have sent nothing: a call that timed out may still have started the batch,
    // which `bulkStatus` then finds in Temporal.
    if (refused) await batches.recordStartFailure(batchId, temporalMessage(err)).catch(() => undefined);
    if (code === GRPC.invalidArgument) throw new UseCaseError('invalid', `Temporal refused the batch: ${temporalMessage(err)}`, {}, { cause: err });
    if (refused) throw new UseCaseError('busy', `Temporal did not start the batch: ${temporalMessage(err)}; try again once a running batch is done`, {}, { cause: err });
    throw new UseCaseError('unavailable', `Temporal did not answer; batch ${batchId} may not have started (GET /bulk/batches/${batchId} tells)`, { batchId }, { cause: err });
  }
  deps.logger.info({ batchId, signal, actor, count: ids.length }, 'bulk action started');
  return { batchId, ...matchOf(ids, unmatched) };
}

const states: Record<number, BulkBatchView['state']> = {
  [temporal.api.enums.v1.BatchOperationState.BATCH_OPERATION_STATE_RUNNING]: 'running',
  [temporal.api.enums.v1.BatchOperationState.BATCH_OPERATION_STATE_COMPLETED]: 'completed',
  [temporal.api.enums.v1.BatchOperationState.BATCH_OPERATION_STATE_FAILED]: 'failed',
};

const tsToIso = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): string | undefined =>
  t?.seconds == null ? undefined : new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();

/**
 * A batch: what the ledger recorded, how far Temporal has got, and what the requests made of it.
 * `not_found` for a batch id the ledger never recorded.
 * @example const view = await bulkStatus(deps, 'bulk-…'); view.state === 'completed';
 */
export async function bulkStatus(deps: UseCaseDeps, batchId: string): Promise<BulkBatchView> {
  const batches = requireBatches(deps);
  if (!bulkBatchIdPattern.test(batchId)) throw new UseCaseError('invalid', 'batchId: must be a bulk batch id (bulk-<uuid>)');
  let stored, recorded;
  try {
    stored = await batches.find(batchId);
    recorded = stored ? await batches.outcomes(batchId) : undefined;
  } catch (err) {
    throw new UseCaseError('unavailable', 'the ledger did not answer; try again', {}, { cause: err });
  }
  if (!stored || !recorded) throw new UseCaseError('not_found', `no bulk batch ${batchId}`);
  const view: BulkBatchView = {
    batchId,
    action: stored.signal,
    actor: stored.actor,
    target: stored.fields,
    query: stored.query,
    createdAt: stored.createdAt,
    count: stored.requestCount,
    state: 'unknown',
    signalled: { total: stored.requestCount, completed: 0, failed: 0 },
    recorded,
  };
  if (stored.startError !== null) return { ...view, state: 'not_started', startError: stored.startError };
  let d;
  try {
    d = await deps.client.connection.withDeadline(Date.now() + (deps.timeouts?.statusMs ?? 5000), () =>
      deps.client.connection.workflowService.describeBatchOperation({ namespace: deps.namespace, jobId: batchId }),
    );
  } catch (err) {
    if (codeOf(err) === GRPC.notFound) return view;
    throw new UseCaseError('unavailable', 'Temporal did not answer; try again', {}, { cause: err });
  }
  const closedAt = tsToIso(d.closeTime);
  return {
    ...view,
    state: states[d.state ?? 0] ?? 'unknown',
    signalled: { total: Number(d.totalOperationCount ?? stored.requestCount), completed: Number(d.completeOperationCount ?? 0), failed: Number(d.failureOperationCount ?? 0) },
    ...(closedAt ? { closedAt } : {}),
  };
}
