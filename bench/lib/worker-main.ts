/**
 * The worker as its own process, for benchmarks that measure it (RSS, CPU) or kill it with SIGKILL.
 * Same wiring as `src/worker.ts`; the connectors of `src/activities/connectors.ts` are used when that module
 * exists, so the manual-only benchmarks also run without it. Prints `BENCH_WORKER_READY` once polling.
 */
import path from 'node:path';
import fs from 'node:fs';
import type { ConnectorFactory } from '../../src/activities';
import type { SystemConfig } from '../../src/catalog/schema';
import { openEngine } from '../../src/engine';
import { createEngineWorker } from '../../src/worker';

type Connectors = Partial<Record<SystemConfig['kind'], ConnectorFactory>>;

function availableConnectors(): Connectors {
  const file = path.resolve(__dirname, '../../src/activities/connectors.ts');
  if (!fs.existsSync(file)) return {};
  return (require(file) as { defaultConnectors: Connectors }).defaultConnectors;
}

async function main(): Promise<void> {
  const engine = await openEngine({ role: 'worker', dataDir: process.env.ERASURE_DATA_DIR });
  const { worker, close } = await createEngineWorker(engine, { connectors: availableConnectors() });
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
