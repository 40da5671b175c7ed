/**
 * The worker: polls the erasure task queue, runs the workflow and the activities. Run with `npm run worker`.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, logNotifier, type ConnectorFactory } from './activities';
import type { SystemConfig } from './catalog/schema';
import { ledgerForActivities, openEngine, type Engine } from './engine';
import { loadWorkflowBundle, workflowsPath } from './temporal/workflow-bundle';

export interface EngineWorkerOptions {
  connectors: Partial<Record<SystemConfig['kind'], ConnectorFactory>>;
  /** Task queue override (tests). */
  taskQueue?: string;
  connection?: NativeConnection;
}

/**
 * Builds a worker for the engine's task queue. Stop it with `worker.shutdown()`.
 * @example const worker = await createEngineWorker(engine, { connectors: defaultConnectors }); await worker.run();
 */
export async function createEngineWorker(engine: Engine, opts: EngineWorkerOptions): Promise<{ worker: Worker; close(): Promise<void> }> {
  const connection = opts.connection ?? (await NativeConnection.connect({ address: engine.config.TEMPORAL_ADDRESS }));
  const { audit, certificates } = ledgerForActivities(engine);
  const { closeConnectors, ...activities } = createActivities({
    catalog: engine.catalog,
    connectors: opts.connectors,
    notifier: logNotifier(engine.logger),
    audit,
    certificates,
    logger: engine.logger,
    metrics: engine.metrics,
  });
  const worker = await Worker.create({
    connection,
    namespace: engine.config.TEMPORAL_NAMESPACE,
    taskQueue: opts.taskQueue ?? engine.config.TASK_QUEUE,
    // A prebuilt bundle skips webpack at start-up: a restarted worker polls again within seconds.
    ...(engine.config.WORKFLOW_BUNDLE ? { workflowBundle: loadWorkflowBundle(engine.config.WORKFLOW_BUNDLE) } : { workflowsPath }),
    activities,
    dataConverter: engine.dataConverter,
    // Open erasures wait for days and the cache is bounded either way (evicted runs replay when they wake).
    // A fixed size larger than the heap allows kills the workflow thread (measured: 1,000 runs do not fit in
    // a 600 MiB heap), so unless configured the SDK derives it from the heap limit.
    ...(engine.config.WORKER_MAX_CACHED_WORKFLOWS !== undefined ? { maxCachedWorkflows: engine.config.WORKER_MAX_CACHED_WORKFLOWS } : {}),
  });
  return {
    worker,
    async close() {
      await closeConnectors();
      if (!opts.connection) await connection.close();
    },
  };
}

async function main(): Promise<void> {
  const engine = await openEngine({ role: 'worker' });
  const { defaultConnectors } = await import('./systems/registry');
  const { worker, close } = await createEngineWorker(engine, { connectors: defaultConnectors });
  engine.logger.info({ taskQueue: engine.config.TASK_QUEUE, address: engine.config.TEMPORAL_ADDRESS, maxCachedWorkflows: worker.options.maxCachedWorkflows }, 'worker polling');
  await worker.run();
  await close();
  await engine.close();
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`worker failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
