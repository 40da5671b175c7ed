/**
 * The worker: polls the erasure task queue, runs the workflow and the activities. Run with `npm run worker`.
 */
import v8 from 'node:v8';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, logNotifier, type ConnectorFactory } from './activities';
import { consumerAnnouncer, withConsumerAnnouncements } from './events/announcer';
import type { SystemConfig } from './catalog/schema';
import { ledgerForActivities, openEngine, type Engine } from './engine';
import { connectTemporal, describeTemporalConnection } from './temporal/connection';
import { loadWorkflowBundle, workflowsPath } from './temporal/workflow-bundle';
import { startWorkerNotifications, withNotifications, type WorkerNotificationOptions } from './notify';
import { pauseReader } from './ledger/pauses';

export interface EngineWorkerOptions {
  /**
   * The connector factory per kind; the registry's when absent. A map given here replaces it whole: `{}`
   * means no connectors at all (tests that inject none).
   */
  connectors?: Partial<Record<SystemConfig['kind'], ConnectorFactory>>;
  /** Task queue override (tests). */
  taskQueue?: string;
  connection?: NativeConnection;
  /** Notification channels and dispatcher tuning (tests); the `SMTP_*` configuration otherwise. */
  notifications?: Omit<WorkerNotificationOptions, 'audit'>;
}

const MiB = 1024 * 1024;

/**
 * The old-generation heap limit in MiB: the last `--max-old-space-size` of NODE_OPTIONS and the command line
 * (which Node applies in that order), else V8's whole heap limit.
 */
export function oldGenerationLimitMiB(nodeOptions: string | undefined, execArgv: readonly string[] = process.execArgv): number {
  const flags = [...(nodeOptions ?? '').split(/\s+/), ...execArgv];
  const sizes = flags.map((f) => /^--max[-_]old[-_]space[-_]size=(\d+)$/.exec(f)?.[1]).filter((n): n is string => n !== undefined);
  return sizes.length > 0 ? Number(sizes[sizes.length - 1]) : v8.getHeapStatistics().heap_size_limit / MiB;
}

/**
 * How many workflow runs fit in the cache: the SDK's own rule (about 600 per GiB above 200 MiB, at least 10),
 * applied to the old generation, where cached runs live. The SDK applies it to V8's whole limit, which also
 * counts the young generation: 3 × 16 MiB on Node 20 and 22 but 3 × 64 MiB on Node 24, so the same
 * `--max-old-space-size` would allow more runs on 24 than the heap can hold.
 */
export function defaultWorkflowCacheSize(oldGenerationMiB: number): number {
  return Math.max(Math.floor((Math.max(oldGenerationMiB - 200, 0) * 600) / 1024), 10);
}

/**
 * Builds a worker for the engine's task queue. Stop it with `worker.shutdown()`.
 * @example const { worker, close } = await createEngineWorker(engine, {}); await worker.run(); await close();
 */
export async function createEngineWorker(engine: Engine, opts: EngineWorkerOptions): Promise<{ worker: Worker; close(): Promise<void> }> {
  const connection = opts.connection ?? (await connectTemporal(engine.config, (options) => NativeConnection.connect(options)));
  const { audit, certificates } = ledgerForActivities(engine);
  // Owners and escalation contacts hear by e-mail and chat webhook (queued in the database, src/notify).
  const notifications = startWorkerNotifications(engine, { ...opts.notifications, audit });
  const { closeConnectors, ...activities } = createActivities({
    catalog: engine.catalog,
    connectors: opts.connectors,
    // Consumers hear of a request on Kafka (through the outbox) or by their webhook, beside the log line.
    notifier: withConsumerAnnouncements(
      withNotifications(logNotifier(engine.logger), notifications.queue),
      consumerAnnouncer({
        db: engine.pool,
        catalog: engine.catalog,
        eventsTopic: engine.config.KAFKA_EVENTS_TOPIC,
        kafka: engine.config.KAFKA_BROKERS !== undefined,
        logger: engine.logger,
        transientWindowMs: engine.config.ERASURE_TRANSIENT_WINDOW,
      }),
    ),
    audit,
    certificates,
    logger: engine.logger,
    metrics: engine.metrics,
    transientWindowMs: engine.config.ERASURE_TRANSIENT_WINDOW,
    pauses: pauseReader(engine.pool),
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
    // a 600 MiB heap), so unless configured it is derived from the old-generation heap limit.
    maxCachedWorkflows: engine.config.WORKER_MAX_CACHED_WORKFLOWS ?? defaultWorkflowCacheSize(oldGenerationLimitMiB(engine.config.NODE_OPTIONS)),
    // A cancellation (a legal hold stopping an erase) reaches an activity only in the answer to a heartbeat
    // sent to the server, which the SDK otherwise holds back for up to a minute: at most 2 s here, so work
    // stops within a batch or two of the hold.
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '2 seconds',
  }).catch(async (err: unknown) => {
    // A worker that cannot be built leaves no dispatcher running behind it.
    await notifications.stop();
    throw err;
  });
  return {
    worker,
    async close() {
      await notifications.stop();
      await closeConnectors();
      if (!opts.connection) await connection.close();
    },
  };
}

async function main(): Promise<void> {
  const engine = await openEngine({ role: 'worker' });
  // No connectors given: the registry's (see EngineWorkerOptions.connectors).
  const { worker, close } = await createEngineWorker(engine, {});
  engine.logger.info({ taskQueue: engine.config.TASK_QUEUE, address: engine.config.TEMPORAL_ADDRESS, security: describeTemporalConnection(engine.config), maxCachedWorkflows: worker.options.maxCachedWorkflows }, 'worker polling');
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
