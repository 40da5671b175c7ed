/**
 * Crypto-shredding after the workflow has closed. The certificate activity stores the certificate; this loop
 * destroys the request's data key once Temporal reports the workflow closed (completed, failed, cancelled,
 * terminated or timed out: never running, paused or continued as new), and, with `closedGraceMs`, only that
 * long after it closed. Cancelled requests lose their key the same way: a withdrawn request must not leave
 * readable identifiers in Temporal's history either.
 *
 * The certificate alone is not enough: the run still records its last phase and returns its result after
 * the certificate is stored. "Closed" is not the end of the worker's work on a run either: a query on a
 * closed workflow (a status read racing the close, the Web UI's stack trace) makes a worker replay it from
 * history, re-encoding every command it sent, the subject-carrying ones included. A pass that lands in the
 * middle of such a replay is why the codec never fails on a destroyed key inside the SDK (it encodes the
 * shredded stand-in instead, see `EncryptionCodec.encode`); the grace delay only makes that rarer.
 *
 * Nothing can hold the loop up: a workflow Temporal no longer knows (its retention passed, or it was deleted)
 * is closed for good, so its key goes at once; any other failure postpones only that request, and each pass
 * continues after the last request the previous pass looked at, so postponed rows never hide the rest.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Pool } from '../ledger/db';
import { createRequestRepository, type RequestRepository, type ShreddableRequest } from '../ledger/requests';
import type { Logger } from '../logger';
import type { KeyStore } from './keys';
import { shredRequestKey } from './shred';

export interface Shredder {
  /** One pass now; returns how many keys were destroyed. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

export interface ShredderDeps {
  pool: Pool;
  client: Client;
  keyStore: KeyStore;
  logger: Logger;
  requests?: RequestRepository;
  /** Between passes, ms (default 2000). */
  intervalMs?: number;
  /** Requests looked at per pass (default 100). */
  batchSize?: number;
  /** How long after its workflow closed a request's key may go, ms (default 0: at the first pass that sees it closed). */
  closedGraceMs?: number;
}

/** What Temporal says of a request's workflow. */
type WorkflowState = { state: 'open' } | { state: 'closed'; closedAt?: Date } | { state: 'unknown' };

/** Statuses after which the run will never execute again. Anything else (running, paused, a status this SDK does not know) keeps the key. */
const closedStatuses: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

/**
 * Starts the loop (every `intervalMs`, default 2 s).
 * @example const shredder = startShredder({ pool, client, keyStore, logger }); … await shredder.stop();
 */
export function startShredder(deps: ShredderDeps): Shredder {
  const requests = deps.requests ?? createRequestRepository(deps.pool);
  const batchSize = deps.batchSize ?? 100;
  const graceMs = deps.closedGraceMs ?? 0;
  let after: string | undefined;
  let running: Promise<number> = Promise.resolve(0);

  const workflowState = async (workflowId: string): Promise<WorkflowState> => {
    try {
      const desc = await deps.client.connection.withDeadline(Date.now() + 5000, () => deps.client.workflow.getHandle(workflowId).describe());
      return closedStatuses.has(desc.status.name) ? { state: 'closed', closedAt: desc.closeTime } : { state: 'open' };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { state: 'unknown' };
      throw err;
    }
  };

  const shredOne = async (r: ShreddableRequest): Promise<boolean> => {
    const wf = await workflowState(r.workflowId);
    if (wf.state === 'open') return false;
    // A closed run without a reported close time is not held: its status alone says it will not run again.
    if (wf.state === 'closed' && wf.closedAt !== undefined && Date.now() - wf.closedAt.getTime() < graceMs) return false;
    if (wf.state === 'unknown') deps.logger.info({ requestId: r.requestId }, 'Temporal no longer knows the workflow; shredding its key as closed');
    const result = await shredRequestKey(deps.pool, r.requestId, { keyStore: deps.keyStore, certificateId: r.certificateId ?? undefined, logger: deps.logger });
    return result.destroyedNow;
  };

  const runOnce = async (): Promise<number> => {
    const rows = await requests.shreddable({ after, limit: batchSize });
    // A short page is the end of the list: the next pass starts over from the first request.
    after = rows.length < batchSize ? undefined : rows[rows.length - 1].requestId;
    let destroyed = 0;
    for (const r of rows) {
      try {
        if (await shredOne(r)) destroyed++;
      } catch (err) {
        deps.logger.warn({ requestId: r.requestId, err: { name: (err as Error).name, message: (err as Error).message } }, 'shredding postponed');
      }
    }
    return destroyed;
  };
  const next = () => (running = running.then(runOnce, runOnce).catch(() => 0));
  const timer = setInterval(() => void next(), deps.intervalMs ?? 2000);
  timer.unref();
  return {
    runOnce: next,
    async stop() {
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}
