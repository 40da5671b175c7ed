/**
 * Intake: an accepted request is written to the engine database before its workflow starts, so nothing
 * accepted is ever lost. If Temporal is unreachable the request waits as `queued` and the relay
 * (./relay.ts) starts it later. The same idempotency key never makes a second request or workflow.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import type { Pool } from 'pg';
import { buildPlan } from '../catalog/load';
import { canonicalJson } from '../certificate/canonical';
import type { Catalog } from '../catalog/schema';
import type { Logger } from '../logger';
import { subjectRef } from '../subject';
import { erasureWorkflow } from '../workflows';
import { ErasureDeadlineKey, ErasureJurisdictionKey, ErasureOverdueKey, ErasureStatusKey, workflowIdFor, type ErasureInput } from '../workflows/definitions';
import { type Jurisdiction, type JurisdictionPolicy } from '../domain';
import type { ErasureRequestBody } from '../api/schemas';

export interface IntakeDeps {
  pool: Pool;
  client: Client;
  taskQueue: string;
  /** Secret for subject references and body fingerprints. */
  subjectSecret: string;
  catalog: () => Catalog;
  policies: Record<Jurisdiction, JurisdictionPolicy>;
  logger: Logger;
  /** Encrypts the workflow input while it waits in the ledger (the engine's payload codec). */
  codec?: PayloadCodec;
  /** How long to wait for Temporal before answering `queued` (ms). */
  startTimeoutMs?: number;
  now?: () => Date;
}

/** A request as the ledger holds it (no identifiers). */
export interface RequestRecord {
  requestId: string;
  workflowId: string;
  subjectRef: string;
  jurisdiction: Jurisdiction;
  status: string;
  receivedAt: string;
  deadline: string;
  workflowStartedAt: string | null;
  completedAt: string | null;
  certificateId: string | null;
}

export type SubmitOutcome =
  | { kind: 'created'; record: RequestRecord }
  | { kind: 'existing'; record: RequestRecord }
  | { kind: 'conflict'; record: RequestRecord };

const DAY = 86_400_000;

interface RequestRow {
  request_id: string;
  workflow_id: string;
  subject_ref: string;
  jurisdiction: Jurisdiction;
  status: string;
  body_hash: string;
  received_at: Date;
  deadline: Date;
  workflow_started_at: Date | null;
  completed_at: Date | null;
  certificate_id: string | null;
}

export function toRecord(r: RequestRow): RequestRecord {
  return {
    requestId: r.request_id,
    workflowId: r.workflow_id,
    subjectRef: r.subject_ref,
    jurisdiction: r.jurisdiction,
    status: r.status,
    receivedAt: r.received_at.toISOString(),
    deadline: r.deadline.toISOString(),
    workflowStartedAt: r.workflow_started_at?.toISOString() ?? null,
    completedAt: r.completed_at?.toISOString() ?? null,
    certificateId: r.certificate_id,
  };
}

const columns = 'request_id, workflow_id, subject_ref, jurisdiction, status, body_hash, received_at, deadline, workflow_started_at, completed_at, certificate_id';

/** The workflow input as stored while queued: a payload, encrypted by the engine's codec when it has one. */
export interface SealedInput {
  metadata: Record<string, string>;
  data: string;
}

async function sealInput(deps: IntakeDeps, input: ErasureInput): Promise<SealedInput> {
  let payload = defaultPayloadConverter.toPayload(input);
  if (deps.codec) [payload] = await deps.codec.encode([payload]);
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

/** Reverses {@link sealInput}. */
export async function unsealInput(deps: IntakeDeps, sealed: SealedInput): Promise<ErasureInput> {
  let payload: Payload = {
    metadata: Object.fromEntries(Object.entries(sealed.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(sealed.data, 'base64'),
  };
  if (deps.codec) [payload] = await deps.codec.decode([payload]);
  return defaultPayloadConverter.fromPayload<ErasureInput>(payload);
}

/** Reads one request from the ledger. */
export async function getRequest(pool: Pool, requestId: string): Promise<RequestRecord | undefined> {
  const { rows } = await pool.query<RequestRow>(`SELECT ${columns} FROM requests WHERE request_id = $1`, [requestId]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/**
 * Accepts one erasure request: records it, then starts its workflow (or leaves it queued).
 * @example const outcome = await submitErasure(deps, body);
 */
export async function submitErasure(deps: IntakeDeps, body: ErasureRequestBody): Promise<SubmitOutcome> {
  const requestId = body.requestId ?? randomUUID();
  const workflowId = workflowIdFor(requestId);
  const now = deps.now?.() ?? new Date();
  const policy = deps.policies[body.jurisdiction];
  const ref = subjectRef(body.subject, deps.subjectSecret);
  // A keyed fingerprint of the normalised body: detects "same key, different body" without storing it.
  const fingerprint = createHmac('sha256', deps.subjectSecret)
    .update(await canonicalJson({ subject: body.subject, jurisdiction: body.jurisdiction, source: body.source ?? null, notes: body.notes ?? null }))
    .digest('hex');
  const input: ErasureInput = {
    requestId,
    subject: body.subject,
    subjectRef: ref,
    receivedAt: now.toISOString(),
    plan: buildPlan(deps.catalog(), policy),
    source: body.source,
  };
  const deadline = new Date(now.getTime() + policy.deadlineDays * DAY);

  const inserted = await deps.pool.query<RequestRow>(
    `INSERT INTO requests (request_id, workflow_id, subject_ref, jurisdiction, status, body_hash, received_at, deadline, pending_input)
     VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8)
     ON CONFLICT (request_id) DO NOTHING
     RETURNING ${columns}`,
    [requestId, workflowId, ref, body.jurisdiction, fingerprint, now, deadline, JSON.stringify(await sealInput(deps, input))],
  );
  if (inserted.rowCount === 0) {
    const { rows } = await deps.pool.query<RequestRow>(`SELECT ${columns} FROM requests WHERE request_id = $1`, [requestId]);
    const existing = rows[0];
    return { kind: existing.body_hash === fingerprint ? 'existing' : 'conflict', record: toRecord(existing) };
  }
  await deps.pool.query(`INSERT INTO events (request_id, type, detail) VALUES ($1, 'received', $2)`, [
    requestId,
    JSON.stringify({ subjectRef: ref, jurisdiction: body.jurisdiction, source: body.source ?? null }),
  ]);
  const started = await startQueued(deps, requestId, input);
  const record = toRecord(inserted.rows[0]);
  if (started) {
    record.status = 'accepted';
    record.workflowStartedAt = new Date().toISOString();
  }
  return { kind: 'created', record };
}

/**
 * Starts the workflow of a queued request and marks it started. Returns false (and leaves it queued)
 * when Temporal cannot be reached in time. Safe to call twice: the workflow id deduplicates.
 */
export async function startQueued(deps: IntakeDeps, requestId: string, input: ErasureInput): Promise<boolean> {
  const workflowId = workflowIdFor(requestId);
  try {
    await deps.client.connection.withDeadline(Date.now() + (deps.startTimeoutMs ?? 3000), () =>
      deps.client.workflow.start(erasureWorkflow, {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: ErasureStatusKey, value: 'accepted' },
          { key: ErasureJurisdictionKey, value: input.plan.policy.jurisdiction },
          { key: ErasureDeadlineKey, value: new Date(Date.parse(input.receivedAt) + input.plan.policy.deadlineDays * DAY) },
          { key: ErasureOverdueKey, value: false },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
      deps.logger.warn({ requestId, err: { name: (err as Error).name, message: (err as Error).message } }, 'workflow not started yet; request stays queued');
      return false;
    }
  }
  // The identifiers leave the ledger as soon as Temporal (encrypted) holds them.
  await deps.pool.query(
    `UPDATE requests SET workflow_started_at = now(), pending_input = NULL, status = CASE WHEN status = 'queued' THEN 'accepted' ELSE status END
     WHERE request_id = $1`,
    [requestId],
  );
  deps.logger.info({ requestId, workflowId }, 'erasure workflow started');
  return true;
}
