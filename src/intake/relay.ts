/**
 * The outbox relay: starts the workflows of requests that were accepted while Temporal was unreachable.
 * Rows are claimed with FOR UPDATE SKIP LOCKED, so several API instances never start the same one twice
 * (and the workflow id would deduplicate even if they did).
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
export function startRelay(deps: IntakeDeps, opts: { intervalMs?: number; batch?: number } = {}): Relay {
  const intervalMs = opts.intervalMs ?? 2000;
  let stopped = false;
  let running: Promise<number> = Promise.resolve(0);

  const runOnce = async (): Promise<number> => {
    const client = await deps.pool.connect();
    let started = 0;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ request_id: string; pending_input: SealedInput }>(
        `SELECT request_id, pending_input FROM requests
         WHERE workflow_started_at IS NULL AND pending_input IS NOT NULL
         ORDER BY received_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [opts.batch ?? 50],
      );
      for (const row of rows) {
        if (!(await startQueued(deps, row.request_id, await unsealInput(deps, row.pending_input), client))) break;
        started++;
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      deps.logger.warn({ err: { message: (err as Error).message } }, 'outbox relay pass failed');
    } finally {
      client.release();
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
