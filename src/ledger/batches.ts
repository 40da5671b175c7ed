/**
 * Bulk batches in the ledger (migration 033): which key sent which signal, for which target, to which
 * requests, recorded before Temporal runs the batch. The ledger writer and the certificate issuer read a
 * request's batches back to check batch claims (src/attestation): a claim naming a batch verifies only on a
 * request the batch holds.
 */
import { auditEventTypes, type AttestedFields } from '../domain';
import type { BatchRecord } from '../attestation';
import { inTransaction, type Pool, type Queryable } from './db';

/** What the API records about one batch before it starts it. */
export interface NewBatch {
  batchId: string;
  /** The API key's name. */
  actor: string;
  signal: string;
  fields: AttestedFields;
  /** The visibility query the requests were listed with. */
  query: string;
  /** The requests the batch is sent to; each must be in the ledger. */
  requestIds: readonly string[];
  /** The batch claim's `issuedAt`. */
  createdAt: Date;
}

/** A recorded batch as `GET /bulk/:batchId` shows it. */
export interface StoredBatch extends BatchRecord {
  fields: AttestedFields;
  query: string;
  requestCount: number;
  /** Temporal's refusal when the batch could not be started; nothing was sent then. */
  startError: string | null;
}

/**
 * Records a batch and its requests in one transaction.
 * @example await recordBatch(pool, { batchId, actor: 'ops', signal: 'retrySystem', fields: { system: 'crm' }, query, requestIds, createdAt });
 */
export async function recordBatch(pool: Pool, b: NewBatch): Promise<void> {
  await inTransaction(pool, async (c) => {
    await c.query('INSERT INTO bulk_batches (batch_id, actor, signal, fields, query, request_count, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      b.batchId,
      b.actor,
      b.signal,
      JSON.stringify(b.fields),
      b.query,
      b.requestIds.length,
      b.createdAt,
    ]);
    await c.query('INSERT INTO bulk_batch_requests (batch_id, request_id) SELECT $1, unnest($2::text[])', [b.batchId, [...b.requestIds]]);
  });
}

/** Notes that Temporal refused to start the batch (its claims then reach nobody). */
export async function recordBatchStartFailure(db: Queryable, batchId: string, error: string): Promise<void> {
  await db.query('UPDATE bulk_batches SET start_error = $2 WHERE batch_id = $1', [batchId, error.slice(0, 2000)]);
}

interface BatchRow {
  batch_id: string;
  actor: string;
  signal: string;
  fields: AttestedFields;
  query: string;
  request_count: number;
  created_at: Date;
  start_error: string | null;
}

/**
 * One recorded batch, or `undefined`.
 * @example const batch = await findBatch(pool, 'bulk-…'); batch?.requestCount;
 */
export async function findBatch(db: Queryable, batchId: string): Promise<StoredBatch | undefined> {
  const { rows } = await db.query<BatchRow>('SELECT * FROM bulk_batches WHERE batch_id = $1', [batchId]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    batchId: r.batch_id,
    actor: r.actor,
    signal: r.signal,
    fields: r.fields,
    query: r.query,
    requestCount: r.request_count,
    createdAt: r.created_at.toISOString(),
    startError: r.start_error,
  };
}

/**
 * Which of `batchIds` hold `requestId`, by id: what {@link import('../attestation').Attestor.arrival} needs to
 * check batch claims on that request. No query when there is nothing to look up.
 * @example const batches = await batchesHolding(pool, 'req-1', claimedBatches(attestations));
 */
export async function batchesHolding(db: Queryable, requestId: string, batchIds: readonly string[]): Promise<Map<string, BatchRecord>> {
  const out = new Map<string, BatchRecord>();
  if (batchIds.length === 0) return out;
  const { rows } = await db.query<Pick<BatchRow, 'batch_id' | 'actor' | 'signal' | 'created_at'>>(
    `SELECT b.batch_id, b.actor, b.signal, b.created_at FROM bulk_batches b
       JOIN bulk_batch_requests r ON r.batch_id = b.batch_id
      WHERE r.request_id = $1 AND b.batch_id = ANY($2::text[])`,
    [requestId, [...batchIds]],
  );
  for (const r of rows) out.set(r.batch_id, { batchId: r.batch_id, actor: r.actor, signal: r.signal, createdAt: r.created_at.toISOString() });
  return out;
}

/**
 * The batch's requests in the order recorded (by id), at most `limit`.
 * @example const ids = await batchRequests(pool, 'bulk-…', 20);
 */
export async function batchRequests(db: Queryable, batchId: string, limit = 10_000): Promise<string[]> {
  const { rows } = await db.query<{ request_id: string }>('SELECT request_id FROM bulk_batch_requests WHERE batch_id = $1 ORDER BY request_id LIMIT $2', [batchId, limit]);
  return rows.map((r) => r.request_id);
}

/**
 * How the batch's actions have been recorded so far in the requests' trails (`operator.actions`, attributed to
 * the batch): requests where the workflow accepted it, and where it refused it (with its reason in the
 * request's status). The workflow writes its actions in batches, so these trail the signals by a few seconds.
 * @example const { accepted, refused } = await batchOutcomes(pool, 'bulk-…');
 */
export async function batchOutcomes(db: Queryable, batchId: string): Promise<{ accepted: number; refused: number }> {
  const { rows } = await db.query<{ accepted: string; refused: string }>(
    `SELECT count(DISTINCT e.request_id) FILTER (WHERE e.detail->'actions' @> $3::jsonb) AS accepted,
            count(DISTINCT e.request_id) FILTER (WHERE e.detail->'actions' @> $4::jsonb) AS refused
       FROM events e
      WHERE e.type = $2 AND e.request_id IN (SELECT request_id FROM bulk_batch_requests WHERE batch_id = $1)`,
    [batchId, auditEventTypes.operatorActions, JSON.stringify([{ batch: batchId, accepted: true }]), JSON.stringify([{ batch: batchId, accepted: false }])],
  );
  return { accepted: Number(rows[0]?.accepted ?? 0), refused: Number(rows[0]?.refused ?? 0) };
}

/** The batch functions bound to the ledger, for the use cases (src/use-cases/bulk.ts). */
export interface BatchRepository {
  record(b: NewBatch): Promise<void>;
  recordStartFailure(batchId: string, error: string): Promise<void>;
  find(batchId: string): Promise<StoredBatch | undefined>;
  requests(batchId: string, limit?: number): Promise<string[]>;
  outcomes(batchId: string): Promise<{ accepted: number; refused: number }>;
  /** Of these workflows (request id → workflow id), the requests the ledger received under that workflow id. */
  received(workflows: ReadonlyMap<string, string>): Promise<Set<string>>;
}

/**
 * @example const batches = createBatchRepository(pool); await batches.find('bulk-…');
 */
export function createBatchRepository(pool: Pool): BatchRepository {
  return {
    record: (b) => recordBatch(pool, b),
    recordStartFailure: (batchId, error) => recordBatchStartFailure(pool, batchId, error),
    find: (batchId) => findBatch(pool, batchId),
    requests: (batchId, limit) => batchRequests(pool, batchId, limit),
    outcomes: (batchId) => batchOutcomes(pool, batchId),
    async received(workflows) {
      if (workflows.size === 0) return new Set();
      const { rows } = await pool.query<{ request_id: string }>(
        'SELECT r.request_id FROM requests r JOIN unnest($1::text[], $2::text[]) AS w(request_id, workflow_id) USING (request_id) WHERE r.workflow_id = w.workflow_id',
        [[...workflows.keys()], [...workflows.values()]],
      );
      return new Set(rows.map((r) => r.request_id));
    },
  };
}
