/**
 * The outbox relay: starts the workflows of requests that were accepted while Temporal was unreachable.
 * A pass claims a batch of queued rows with a short lease (so several API instances share the work and a
 * crashed relay's claims expire), then starts each workflow outside any transaction: no row lock is held
 * while Temporal is called. Workflow-id uniqueness makes a double start harmless.
 */
import { startQueued, unsealInput, type IntakeDeps } from './intake';

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
      const claimed = await deps.requests.claimQueued({ batch: opts.batch ?? 50, leaseSeconds: opts.leaseSeconds ?? 60 });
      for (const [i, row] of claimed.entries()) {
        if (!stopped && (await startQueued(relayDeps, row.requestId, await unsealInput(deps, row.pendingInput)))) {
          started++;
          continue;
        }
        // Temporal is most likely unreachable: give the rest of the batch back and retry in a few seconds.
        await deps.requests.releaseClaims(claimed.slice(i).map((r) => r.requestId), 5);
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
