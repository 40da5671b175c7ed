/**
 * Intake: an accepted request is written to the engine database before its workflow starts, so nothing
 * accepted is ever lost. If Temporal is unreachable the request waits as `queued` and the relay
 * (./relay.ts) starts it later. The same idempotency key never makes a second request or workflow.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { buildPlan } from '../catalog/load';
import { ENCODING_ENCRYPTED } from '../codec/codec';
import { canonicalJson } from '../certificate/canonical';
import type { Catalog } from '../catalog/schema';
import type { InsertOutcome, PendingInput, RequestRecord, RequestRepository } from '../ledger/requests';
import type { Logger } from '../logger';
import { subjectRef } from '../subject';
import { erasureStaticDetails, erasureSummary } from '../workflows/summary';
import { erasureWorkflow } from '../workflows';
import { ErasureDeadlineKey, ErasureJurisdictionKey, ErasureOverdueKey, ErasureStatusKey, workflowIdFor, type ErasureInput } from '../workflows/definitions';
import { deadlineFor, type Jurisdiction, type JurisdictionPolicy, type SubjectIdentifiers } from '../domain';

export interface IntakeDeps {
  /** The ledger's requests (src/ledger/requests.ts). */
  requests: RequestRepository;
  client: Client;
  taskQueue: string;
  /** Secret for subject references and body fingerprints. */
  subjectSecret: string;
  catalog: () => Catalog;
  policies: Record<Jurisdiction, JurisdictionPolicy>;
  logger: Logger;
  /** Encrypts the workflow input while it waits in the ledger (the engine's payload codec). */
  codec?: PayloadCodec;
  /** How long the relay waits for Temporal to start one workflow (ms; default 10 s). */
  startTimeoutMs?: number;
  /** Called once a request is committed as queued: wakes this process's relay without waiting for NOTIFY. */
  onQueued?: () => void;
  /** The intake's clock: the time of receipt, from which the deadline is computed. */
  now?: () => Date;
}

/** One erasure request as submitted (validated and normalised by the caller, e.g. the API's schema). */
export interface ErasureSubmission {
  /** Idempotency key; generated when absent. */
  requestId?: string;
  subject: SubjectIdentifiers;
  jurisdiction: Jurisdiction;
  source?: string;
  notes?: string;
}

async function sealInput(deps: IntakeDeps, input: ErasureInput): Promise<PendingInput> {
  let payload = defaultPayloadConverter.toPayload(input);
  if (deps.codec) [payload] = await deps.codec.encode([payload]);
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

/** Reverses {@link sealInput}. */
export async function unsealInput(deps: Pick<IntakeDeps, 'codec'>, sealed: PendingInput): Promise<ErasureInput> {
  let payload: Payload = {
    metadata: Object.fromEntries(Object.entries(sealed.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(sealed.data, 'base64'),
  };
  // A row queued by an engine from before pending inputs were encrypted holds plaintext; it is the ledger's
  // own, so it is read as it is rather than refused like plaintext arriving through Temporal.
  if (deps.codec && Buffer.from(payload.metadata?.encoding ?? []).toString() === ENCODING_ENCRYPTED) [payload] = await deps.codec.decode([payload]);
  return defaultPayloadConverter.fromPayload<ErasureInput>(payload);
}

/**
 * Accepts one erasure request: records it, queued, in the ledger (with its sealed input) and returns the row;
 * the intake relay starts its workflow moments later.
 * @example const outcome = await submitErasure(deps, body);
 */
export async function submitErasure(deps: IntakeDeps, body: ErasureSubmission): Promise<InsertOutcome> {
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
  const outcome = await deps.requests.insertQueued({
    requestId,
    workflowId,
    subjectRef: ref,
    jurisdiction: body.jurisdiction,
    bodyHash: fingerprint,
    receivedAt: now,
    deadline: new Date(deadlineFor(now.getTime(), policy)),
    pendingInput: await sealInput(deps, input),
    receivedDetail: { subjectRef: ref, jurisdiction: body.jurisdiction, source: body.source ?? null },
  });
  // The answer goes out once the request is in the ledger: the relays start its workflow (src/intake/relay.ts),
  // woken at once by the row's NOTIFY, so no caller ever waits for Temporal.
  if (outcome.kind === 'created') deps.onQueued?.();
  return outcome;
}

/**
 * Starts the workflow of a queued request and marks it started. Resolves to the request as the ledger
 * now holds it, or to undefined (leaving it queued) when Temporal cannot be reached in time. Safe to call
 * twice: the workflow id deduplicates.
 * @example if (!(await startQueued(deps, requestId, input))) releaseLater(requestId);
 */
export async function startQueued(deps: IntakeDeps, requestId: string, input: ErasureInput): Promise<RequestRecord | undefined> {
  const workflowId = workflowIdFor(requestId);
  const deadline = new Date(deadlineFor(Date.parse(input.receivedAt), input.plan.policy)).toISOString();
  try {
    await deps.client.connection.withDeadline(Date.now() + (deps.startTimeoutMs ?? 10_000), () =>
      deps.client.workflow.start(erasureWorkflow, {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        // What the Web UI's list and detail pages show: jurisdiction, systems, deadline; never the subject.
        staticSummary: erasureSummary(input.plan.policy.jurisdiction, input.plan.systems.length, deadline),
        staticDetails: erasureStaticDetails(requestId, input.plan, input.receivedAt, deadline),
        typedSearchAttributes: [
          { key: ErasureStatusKey, value: 'accepted' },
          { key: ErasureJurisdictionKey, value: input.plan.policy.jurisdiction },
          { key: ErasureDeadlineKey, value: new Date(deadline) },
          { key: ErasureOverdueKey, value: false },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
      deps.logger.warn({ requestId, err: { name: (err as Error).name, message: (err as Error).message } }, 'workflow not started yet; request stays queued');
      return undefined;
    }
  }
  // The identifiers leave the ledger as soon as Temporal (encrypted) holds them.
  const started = await deps.requests.markStarted(requestId);
  if (!started) throw new Error(`request ${requestId} started its workflow but is missing from the ledger`);
  deps.logger.info({ requestId, workflowId }, 'erasure workflow started');
  return started;
}
