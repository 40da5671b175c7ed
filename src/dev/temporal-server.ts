/**
 * Starts a real Temporal server (go.temporal.io/server, installed by `scripts/setup.sh`) with PostgreSQL
 * persistence on the engine's own PostgreSQL: the layout a deployment grows into from `temporal server start-dev`.
 * Both stores (history and visibility) are `sql`/`postgres12`; their schemas are set up and updated with the
 * server's SQL tool from the versioned folders that ship in the Go module. All four services (frontend,
 * history, matching, worker) run in one process on loopback ports; nothing here downloads.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { stringify } from 'yaml';
import { freePort, projectRoot, spawnListening, stopper, toolPaths, type PostgresServer, type RunningServer } from './servers';

const run = promisify(execFile);

/** What the engine needs from a self-hosted server, as dynamic configuration (see the README). */
export const engineDynamicConfig: Record<string, unknown> = {
  // Operator actions are workflow updates (src/use-cases/operate.ts).
  'frontend.enableUpdateWorkflowExecution': true,
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
  // Bulk retry/pause run as batch operations (src/use-cases/bulk.ts, pause.ts): frontend RPCs + the worker's batcher.
  'frontend.enableBatcher': true,
  'worker.enableNamespaceBatcher': true,
};

export interface TemporalServer extends RunningServer {
  /** `host:port` of the frontend, for `TEMPORAL_ADDRESS`. */
  readonly address: string;
  readonly port: number;
  readonly namespace: string;
  /** The server's Prometheus endpoint (`/metrics`). */
  readonly metricsUrl: string;
  /** Names of the two databases on the PostgreSQL server. */
  readonly databases: { readonly history: string; readonly visibility: string };
  /** Folder with the generated config (`<env>.yaml`, `dynamic.yaml`). */
  readonly configDir: string;
}

export interface StartTemporalServerOptions {
  /** The PostgreSQL server to persist on (the engine's own in tests and benchmarks). */
  pg: PostgresServer;
  /** Name of the history database; visibility goes to `<database>_visibility`. Default `temporal`. Reused when it exists. */
  database?: string;
  /** Frontend gRPC port; a free one when unset. */
  port?: number;
  /** Namespace to register (idempotent). Default `default`. */
  namespace?: string;
  /** History shards; fixed for the life of the database. Default 4 (a small box). */
  numHistoryShards?: number;
  /** Where the config goes; a temporary folder (removed by `stop()`) when unset. */
  configDir?: string;
  /**
   * Connection pool size of each service (four in the process) per store: up to 4 × (history + visibility)
   * connections to PostgreSQL. Default 20 and 10.
   */
  maxConns?: { history?: number; visibility?: number };
  /** Server log level. Default `warn`. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Read search attributes from the database on every call instead of the server's cache, so attributes
   * registered a moment ago are usable at once (as the dev server does). Default true.
   */
  refreshSearchAttributesOnRead?: boolean;
  /** More dynamic config keys (`key: value`), applied for every namespace. */
  dynamicConfig?: Record<string, unknown>;
  /** Every chunk of the server's output. */
  log?: (chunk: string) => void;
  /** How long to wait for the frontend and the namespace. Default 120 s. */
  timeoutMs?: number;
}

/**
 * A free loopback port below 32768: the server stores membership ports in a `smallint` column, and the OS
 * hands out ephemeral ports above that, so {@link freePort} will not do for them.
 */
async function freeMembershipPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const ok = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.unref();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port below 32768 for the Temporal server\'s membership');
}

/** The three setup-recorded paths, or a loud error telling to run setup. */
function serverTools(): { server: string; sqlTool: string; schemaDir: string } {
  const p = toolPaths();
  const server = p.temporalServer;
  const sqlTool = p.temporalSqlTool;
  const schemaDir = p.temporalSchemaDir;
  for (const [key, value] of [['temporalServer', server], ['temporalSqlTool', sqlTool], ['temporalSchemaDir', schemaDir]] as const) {
    if (!value || !fs.existsSync(value)) {
      throw new Error(`the Temporal server is not installed (${key} ${value ?? `missing from ${path.join(projectRoot, '.tools', 'paths.json')}`}): run "npm run setup"`);
    }
  }
  return { server: server!, sqlTool: sqlTool!, schemaDir: schemaDir! };
}

/** Whether the schema tool already set up its version table in `database`. */
async function hasSchemaVersion(pg: PostgresServer, database: string): Promise<boolean> {
  const { Client } = await import('pg');
  const c = new Client({ connectionString: pg.urlFor(database) });
  await c.connect();
  try {
    const { rows } = await c.query<{ t: string | null }>(`SELECT to_regclass('public.schema_version') AS t`);
    return rows[0].t !== null;
  } finally {
    await c.end();
  }
}

/**
 * Creates the database when missing, sets up versioning once (`setup-schema -v 0.0`) and brings the schema
 * to the newest version in `versionedDir` (`update-schema -d`); a second run only checks.
 */
async function prepareSchema(sqlTool: string, pg: PostgresServer, database: string, versionedDir: string): Promise<void> {
  await pg.createDatabase(database);
  const common = ['--plugin', 'postgres12', '--endpoint', '127.0.0.1', '--port', String(pg.port), '--user', 'postgres', '--database', database];
  try {
    if (!(await hasSchemaVersion(pg, database))) await run(sqlTool, [...common, 'setup-schema', '-v', '0.0'], { timeout: 60_000 });
    await run(sqlTool, [...common, 'update-schema', '-d', versionedDir], { timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`Temporal schema setup of database ${database} failed: ${(e.stderr || e.stdout || e.message).slice(-2000)}`);
  }
}

/** The server's static config: both stores on PostgreSQL, every service on loopback. */
function serverConfig(o: {
  pgPort: number;
  history: string;
  visibility: string;
  shards: number;
  maxConns: { history: number; visibility: number };
  logLevel: string;
  ports: Record<'frontend' | 'history' | 'matching' | 'worker', { grpcPort: number; membershipPort: number }>;
  httpPort: number;
  metricsPort: number;
  dynamicConfigFile: string;
}): unknown {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${o.pgPort}`,
      connectProtocol: 'tcp',
      user: 'postgres',
      password: '',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (p: { grpcPort: number; membershipPort: number }, extra: Record<string, unknown> = {}) => ({
    rpc: { grpcPort: p.grpcPort, membershipPort: p.membershipPort, bindOnIP: '127.0.0.1', ...extra },
  });
  return {
    log: { stdout: true, level: o.logLevel },
    persistence: {
      defaultStore: 'pg-default',
      visibilityStore: 'pg-visibility',
      numHistoryShards: o.shards,
      datastores: { 'pg-default': store(o.history, o.maxConns.history), 'pg-visibility': store(o.visibility, o.maxConns.visibility) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${o.metricsPort}` } },
    },
    services: {
      frontend: service(o.ports.frontend, { httpPort: o.httpPort }),
      history: service(o.ports.history),
      matching: service(o.ports.matching),
      worker: service(o.ports.worker),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${o.ports.frontend.grpcPort}` } },
    },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: o.dynamicConfigFile, pollInterval: '10s' },
  };
}

/** Registers `namespace` (idempotent) and waits until the frontend serves it. */
async function ensureNamespace(address: string, namespace: string, until: number, alive: () => boolean): Promise<void> {
  let last: unknown;
  while (Date.now() < until && alive()) {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 5_000 });
      await connection.withDeadline(Date.now() + 10_000, async () => {
        try {
          await connection!.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') });
        } catch (err) {
          if ((err as { code?: number }).code !== 6 /* ALREADY_EXISTS */) throw err;
        }
      });
      // The frontend learns new namespaces from its cache (refreshed every 2 s by default): poll a namespace call.
      await connection.withDeadline(Date.now() + 10_000, () => connection!.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 }));
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await connection?.close().catch(() => undefined);
    }
  }
  throw new Error(`Temporal server at ${address} did not serve namespace ${namespace}: ${(last as Error | undefined)?.message ?? 'it exited'}`);
}

/**
 * Starts the Temporal server on PostgreSQL and registers the namespace. The engine's search attributes are
 * not added here: `registerSearchAttributes` (src/temporal/search-attributes.ts) does it through the operator
 * service, as against any self-hosted server.
 * @example
 * const pg = await startPostgres();
 * const t = await startTemporalServer({ pg });
 * // TEMPORAL_ADDRESS=t.address …
 * await t.stop();
 */
export async function startTemporalServer(opts: StartTemporalServerOptions): Promise<TemporalServer> {
  const { server, sqlTool, schemaDir } = serverTools();
  const history = opts.database ?? 'temporal';
  const visibility = `${history}_visibility`;
  const namespace = opts.namespace ?? 'default';
  const timeoutMs = opts.timeoutMs ?? 120_000;
  await prepareSchema(sqlTool, opts.pg, history, path.join(schemaDir, 'temporal', 'versioned'));
  await prepareSchema(sqlTool, opts.pg, visibility, path.join(schemaDir, 'visibility', 'versioned'));

  const ownDir = !opts.configDir;
  const configDir = opts.configDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-temporal-'));
  fs.mkdirSync(configDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const pair = async (grpcPort?: number) => ({ grpcPort: grpcPort ?? (await freePort()), membershipPort: await freeMembershipPort() });
  const ports = { frontend: await pair(port), history: await pair(), matching: await pair(), worker: await pair() };
  const metricsPort = await freePort();
  const dynamicConfigFile = path.join(configDir, 'dynamic.yaml');
  const dynamic = {
    ...engineDynamicConfig,
    'system.forceSearchAttributesCacheRefreshOnRead': opts.refreshSearchAttributesOnRead ?? true,
    ...opts.dynamicConfig,
  };
  fs.writeFileSync(dynamicConfigFile, stringify(Object.fromEntries(Object.entries(dynamic).map(([k, value]) => [k, [{ value }]]))));
  const env = 'erasure';
  fs.writeFileSync(
    path.join(configDir, `${env}.yaml`),
    stringify(serverConfig({ pgPort: opts.pg.port, history, visibility, shards: opts.numHistoryShards ?? 4, maxConns: { history: opts.maxConns?.history ?? 20, visibility: opts.maxConns?.visibility ?? 10 }, logLevel: opts.logLevel ?? 'warn', ports, httpPort: await freePort(), metricsPort, dynamicConfigFile })),
  );
  const args = ['--root', configDir, '--config', '.', '--env', env, '--allow-no-auth', 'start'];
  for (const s of ['frontend', 'history', 'matching', 'worker']) args.push('--service', s);
  const removeOwnDir = () => {
    if (ownDir) fs.rmSync(configDir, { recursive: true, force: true });
  };
  const { child, output } = await spawnListening(server, args, { name: 'Temporal server', port, timeoutMs, log: opts.log }).catch((err: unknown) => {
    removeOwnDir();
    throw err;
  });
  const stopServer = stopper(child);
  const address = `127.0.0.1:${port}`;
  try {
    await ensureNamespace(address, namespace, Date.now() + timeoutMs, () => child.exitCode === null && child.signalCode === null);
  } catch (err) {
    await stopServer();
    removeOwnDir();
    throw new Error(`${(err as Error).message}\n${output()}`);
  }
  return {
    process: child,
    address,
    port,
    namespace,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    databases: { history, visibility },
    configDir,
    async stop() {
      await stopServer();
      removeOwnDir();
    },
  };
}
