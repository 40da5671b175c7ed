/**
 * The outbox relay: starts the workflows of requests that were accepted while Temporal was unreachable.
 * A pass claims a batch of queued rows with a short lease (so several API instances share the work and a
 * crashed relay's claims expire), then starts each workflow outside any transaction: no row lock is held
 * while Temporal is called. Workflow-id uniqueness makes a double start harmless.
 */
import { startQueued, unsealInput, type IntakeDeps, type SealedInput } from './intake';

export interface Relay {
  /** Runs one pass now; returns how many requests were started. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the relay loop.
 * @example const relay = startRelay(deps, { intervalMs: 2000 }); … await relay.stop();
 */
export function startRelay(deps: IntakeDeps, opts: { intervalMs?: number; batch?: number; leaseSeconds?: number } = {}): Relay {
  const intervalMs = opts.intervalMs ?? 2000;
  let stopped = false;
  let running: Promise<number> = Promise.resolve(0);
  // The relay is not answering a caller: it can wait longer for Temporal than the intake does.
  const relayDeps: IntakeDeps = { ...deps, startTimeoutMs: Math.max(deps.startTimeoutMs ?? 3000, 10_000) };

  const runOnce = async (): Promise<number> => {
    let started = 0;
    try {
      const { rows } = await deps.pool.query<{ request_id: string; pending_input: SealedInput }>(
        `UPDATE requests SET relay_claimed_until = now() + make_interval(secs => $2)
         WHERE request_id IN (
           SELECT request_id FROM requests
           WHERE workflow_started_at IS NULL AND pending_input IS NOT NULL
             AND (relay_claimed_until IS NULL OR relay_claimed_until < now())
           ORDER BY received_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING request_id, pending_input`,
        [opts.batch ?? 50, opts.leaseSeconds ?? 60],
      );
      for (const [i, row] of rows.entries()) {
        if (!stopped && (await startQueued(relayDeps, row.request_id, await unsealInput(deps, row.pending_input)))) {
          started++;
          continue;
        }
        // Temporal is most likely unreachable: give the rest of the batch back and retry in a few seconds.
        await deps.pool.query(`UPDATE requests SET relay_claimed_until = now() + interval '5 seconds' WHERE request_id = ANY($1)`, [
          rows.slice(i).map((r) => r.request_id),
        ]);
        break;
      }
    } catch (err) {
      deps.logger.warn({ err: { message: (err as Error).message } }, 'outbox relay pass failed');
    }
    if (started) deps.logger.info({ started }, 'outbox relay started queued erasures');
    return started;
  };

  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(runOnce, runOnce);
  }, intervalMs);
  timer.unref();

  return {
    runOnce: () => (running = running.then(runOnce, runOnce)),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}
