/**
 * Crypto-shredding after the workflow has closed. The certificate activity stores the certificate; this loop
 * destroys the request's data key once Temporal reports the workflow closed, so no worker can ever need to
 * replay the run with its input already unreadable.
 */
import type { Client } from '@temporalio/client';
import type { Pool } from '../ledger/db';
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
export function startShredder(deps: { pool: Pool; client: Client; keyStore: KeyStore; logger: Logger; intervalMs?: number }): Shredder {
  let running: Promise<number> = Promise.resolve(0);
  const runOnce = async (): Promise<number> => {
    const { rows } = await deps.pool.query<{ request_id: string; workflow_id: string; certificate_id: string }>(
      `SELECT r.request_id, r.workflow_id, r.certificate_id FROM requests r
       WHERE r.certificate_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM destroyed_data_keys d WHERE d.request_id = r.request_id)
       ORDER BY r.completed_at NULLS LAST LIMIT 100`,
    );
    let destroyed = 0;
    for (const r of rows) {
      try {
        const desc = await deps.client.connection.withDeadline(Date.now() + 5000, () => deps.client.workflow.getHandle(r.workflow_id).describe());
        if (desc.status.name === 'RUNNING') continue;
        await shredRequestKey(deps.pool, r.request_id, { keyStore: deps.keyStore, certificateId: r.certificate_id, logger: deps.logger });
        destroyed++;
      } catch (err) {
        deps.logger.warn({ requestId: r.request_id, err: { name: (err as Error).name, message: (err as Error).message } }, 'shredding postponed');
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
