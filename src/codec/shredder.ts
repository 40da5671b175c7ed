/**
 * Crypto-shredding after the workflow has closed. The certificate activity stores the certificate; this loop
 * destroys the request's data key once Temporal reports the workflow closed, so no worker can ever need to
 * replay the run with its input already unreadable.
 */
import type { Client } from '@temporalio/client';
import type { Pool } from '../ledger/db';
import { createRequestRepository, type RequestRepository } from '../ledger/requests';
import type { Logger } from '../logger';
import type { KeyStore } from './keys';
import { shredRequestKey } from './shred';

export interface Shredder {
  /** One pass now; returns how many keys were destroyed. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the loop (every `intervalMs`, default 2 s).
 * @example const shredder = startShredder({ pool, client, keyStore, logger }); … await shredder.stop();
 */
export function startShredder(deps: { pool: Pool; client: Client; keyStore: KeyStore; logger: Logger; requests?: RequestRepository; intervalMs?: number }): Shredder {
  const requests = deps.requests ?? createRequestRepository(deps.pool);
  let running: Promise<number> = Promise.resolve(0);
  const runOnce = async (): Promise<number> => {
    const rows = await requests.certifiedWithLiveKeys(100);
    let destroyed = 0;
    for (const r of rows) {
      try {
        const desc = await deps.client.connection.withDeadline(Date.now() + 5000, () => deps.client.workflow.getHandle(r.workflowId).describe());
        if (desc.status.name === 'RUNNING') continue;
        await shredRequestKey(deps.pool, r.requestId, { keyStore: deps.keyStore, certificateId: r.certificateId, logger: deps.logger });
        destroyed++;
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
