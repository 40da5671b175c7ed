/**
 * The intake relay: starts the workflows of the requests the intake has accepted into the ledger. Every API
 * process runs one. It is woken at once by the NOTIFY each accepted row commits with (and by its own process's
 * intake, without the round trip), and polls as a safety net. A pass claims a batch of queued rows with a short
 * lease (`FOR UPDATE SKIP LOCKED`, so several relays share the work and a crashed relay's claims expire), then
 * starts their workflows outside any transaction, a bounded number at a time: no row lock is held while Temporal
 * is called, and a burst of requests becomes a queue in the ledger instead of callers waiting. Workflow-id
 * uniqueness makes a double start harmless.
 */
import type { EngineMetrics } from '../metrics';
import { listen } from '../ledger/listen';
import { INTAKE_CHANNEL } from '../ledger/requests';
import { startQueued, unsealInput, type IntakeDeps } from './intake';

export interface Relay {
  /** Runs passes now until the queue is empty (or Temporal stops answering); resolves to how many started. */
  runOnce(): Promise<number>;
  /** Asks for a pass soon (coalesced with one already asked for). */
  wake(): void;
  stop(): Promise<void>;
}

export interface RelayOptions {
  /** Safety-net poll interval (default 2 s); NOTIFY wakes the relay at once. */
  intervalMs?: number;
  /** Rows per claim (default 50). */
  batch?: number;
  leaseSeconds?: number;
  /** Workflow starts in flight at once (default 16). */
  concurrency?: number;
  /** The engine database, to LISTEN on; without it the relay polls (and is woken by its own intake). */
  connectionString?: string;
  metrics?: EngineMetrics;
}

/**
 * Starts the relay loop.
 * @example const relay = startRelay(deps, { connectionString: config.DATABASE_URL, metrics }); … await relay.stop();
 */
export function startRelay(deps: IntakeDeps, opts: RelayOptions = {}): Relay {
  const intervalMs = opts.intervalMs ?? 2000;
  const batch = opts.batch ?? 50;
  const concurrency = Math.max(1, opts.concurrency ?? 16);
  let stopped = false;
  let running: Promise<number> = Promise.resolve(0);
  let asked = false;

  /** One claim: starts its rows `concurrency` at a time; resolves to [started, claimed, Temporal failed]. */
  const pass = async (): Promise<[number, number, boolean]> => {
    const claimed = await deps.requests.claimQueued({ batch, leaseSeconds: opts.leaseSeconds ?? 60 });
    let started = 0;
    let failed = false;
    let next = 0;
    const unstarted: string[] = [];
    const lane = async () => {
      while (next < claimed.length) {
        const row = claimed[next++];
        if (stopped || failed) {
          unstarted.push(row.requestId);
          continue;
        }
        opts.metrics?.intakeStartsInFlight.inc();
        try {
          const input = await unsealInput(deps, row.pendingInput);
          if (await startQueued(deps, row.requestId, input)) {
            started++;
            opts.metrics?.intakeStartSeconds.observe(Math.max(0, Date.now() - Date.parse(input.receivedAt)) / 1000);
          } else {
            // Temporal is most likely unreachable: the rest of the batch goes back and is retried in a few seconds.
            failed = true;
            unstarted.push(row.requestId);
          }
        } finally {
          opts.metrics?.intakeStartsInFlight.dec();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, lane));
    if (unstarted.length) await deps.requests.releaseClaims(unstarted, 5);
    return [started, claimed.length, failed];
  };

  const drain = async (): Promise<number> => {
    let total = 0;
    try {
      for (;;) {
        asked = false;
        const [started, claimed, failed] = await pass();
        total += started;
        if (stopped || failed || (claimed < batch && !asked)) break;
      }
    } catch (err) {
      deps.logger.warn({ err: { message: (err as Error).message } }, 'intake relay pass failed');
    }
    if (total) deps.logger.info({ started: total }, 'intake relay started erasures');
    return total;
  };

  const runOnce = (): Promise<number> => (running = running.then(drain, drain));
  let queued = false;
  const wake = () => {
    if (stopped) return;
    asked = true;
    if (queued) return;
    queued = true;
    void running.finally(() => {
      queued = false;
      if (!stopped) void runOnce();
    });
  };

  const timer = setInterval(wake, intervalMs);
  timer.unref();
  const listener = opts.connectionString
    ? listen({ connectionString: opts.connectionString, channel: INTAKE_CHANNEL, name: 'intake relay', applicationName: 'erasure-intake-relay' }, wake, deps.logger, () => stopped)
    : undefined;

  return {
    runOnce,
    wake,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await listener?.close();
      await running.catch(() => undefined);
    },
  };
}
