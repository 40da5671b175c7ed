/**
 * The worker as its own process, for benchmarks that measure it (RSS, CPU) or kill it with SIGKILL.
 * Same wiring as `src/worker.ts`, with the connectors of the systems registry (`src/systems/registry.ts`).
 * Prints `BENCH_WORKER_READY` once polling.
 */
import { openEngine } from '../../src/engine';
import { defaultConnectors } from '../../src/systems/registry';
import { createEngineWorker } from '../../src/worker';

async function main(): Promise<void> {
  const engine = await openEngine({ role: 'worker', dataDir: process.env.ERASURE_DATA_DIR });
  const { worker, close } = await createEngineWorker(engine, { connectors: defaultConnectors });
  const running = worker.run();
  process.stdout.write(`BENCH_WORKER_READY maxCachedWorkflows=${worker.options.maxCachedWorkflows}\n`);
  const stop = () => worker.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await running;
  await close();
  await engine.close();
}

main().catch((err) => {
  process.stderr.write(`bench worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
