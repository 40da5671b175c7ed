/**
 * The engine as benchmarks run it: the engine's PostgreSQL and the Temporal dev server (SQLite file) started
 * by this process, the worker and the API as separate Node processes (so they can be measured, and the
 * worker killed with SIGKILL), everything on 127.0.0.1. With `temporal: 'postgres'` the real Temporal server
 * (src/dev/temporal-server.ts) runs instead, persisting on the same PostgreSQL, and `workers` starts several
 * worker processes on the one task queue.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { hashApiKey } from '../../src/api/auth';
import { writeWorkflowBundle } from '../../src/temporal/workflow-bundle';
import { freePort, projectRoot, startPostgres, startTemporalDevServer, waitForPort, type PostgresServer, type TemporalDevServer } from '../../src/dev/servers';
import { startTemporalServer } from '../../src/dev/temporal-server';
import { registerSearchAttributes } from '../../src/temporal/search-attributes';
import { readStat } from './proc';
import { onCleanup, sleep } from './report';

export const manualOnlyCatalog = `
systems:
  - id: legacy-billing
    kind: manual
    owner: billing-team
    reminderEvery: 3d
`;

/** A Node child process of the engine (worker or API). */
export interface EngineProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process exited. */
  readonly exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface Cluster {
  dir: string;
  pg: PostgresServer;
  temporal: TemporalDevServer;
  temporalDbFile: string;
  env: NodeJS.ProcessEnv;
  apiUrl: string;
  apiKey: string;
  worker: EngineProcess | undefined;
  /** Which Temporal server runs: the dev server (SQLite file) or the real server on PostgreSQL. */
  temporalKind: TemporalKind;
  /** Every worker process sharing the task queue (`worker` is the first). */
  workers: EngineProcess[];
  api: EngineProcess | undefined;
  /** Engine database (ledger). */
  ledger: Pool;
  startWorker(): Promise<EngineProcess>;
  startApi(): Promise<EngineProcess>;
  stopTemporal(): Promise<void>;
  startTemporal(): Promise<void>;
  temporalClient(): Promise<Client>;
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

/** `dev`: `temporal server start-dev` on a SQLite file; `postgres`: go.temporal.io/server on the cluster's PostgreSQL. */
export type TemporalKind = 'dev' | 'postgres';

/** Reads `--temporal=dev|postgres` and `--workers=N` (default dev, 1). */
export function clusterFlags(a: { get(name: string): string | undefined; num(name: string, dflt: number): number }): { temporal: TemporalKind; workers: number } {
  const temporal = a.get('temporal') ?? 'dev';
  if (temporal !== 'dev' && temporal !== 'postgres') throw new Error(`--temporal must be dev or postgres, got "${temporal}"`);
  const workers = a.num('workers', 1);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a whole number of at least 1, got ${workers}`);
  return { temporal, workers };
}

/** Starts the Temporal server of `kind`; the real server gets the engine's search attributes through its operator service. */
async function startTemporalOf(kind: TemporalKind, pg: PostgresServer, dbFile: string, port?: number): Promise<TemporalDevServer> {
  if (kind === 'dev') return startTemporalDevServer({ dbFile, port });
  const server = await startTemporalServer({ pg, database: 'temporal', port });
  const connection = await Connection.connect({ address: server.address });
  try {
    await registerSearchAttributes(connection, server.namespace);
  } finally {
    await connection.close();
  }
  return server;
}

const tsNode = ['-r', 'ts-node/register/transpile-only'];

function spawnEngine(script: string, env: NodeJS.ProcessEnv, logFile: string, readyLine?: string): { proc: EngineProcess; ready: Promise<void> } {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [...tsNode, script], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', log] });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (b: Buffer) => {
      fs.appendFileSync(logFile, b);
      buf = (buf + b.toString()).slice(-2000);
      if (readyLine && buf.includes(readyLine)) resolve();
    });
    void exited.then(() => reject(new Error(`${path.basename(script)} exited (${child.exitCode ?? child.signalCode}) before it was ready; see ${logFile}`)));
    if (!readyLine) resolve();
  });
  ready.catch(() => undefined);
  const proc: EngineProcess = {
    pid: child.pid!,
    child,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return { proc, ready };
}

/**
 * Starts PostgreSQL (engine database), the Temporal dev server on a SQLite file, then the worker and the API
 * processes (unless told not to). `extraEnv` reaches both processes (catalog `${VAR}`s).
 */
export async function startCluster(opts: {
  catalog: string;
  extraEnv?: NodeJS.ProcessEnv;
  worker?: boolean;
  api?: boolean;
  logLevel?: string;
  /** Default `dev`. */
  temporal?: TemporalKind;
  /** Worker processes sharing the task queue (default 1). */
  workers?: number;
  /** Settings of the engine's PostgreSQL (statement statistics). */
  pgSettings?: Record<string, string>;
}): Promise<Cluster> {
  const temporalKind = opts.temporal ?? 'dev';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-bench-'));
  const pg = await startPostgres({ dataDir: path.join(dir, 'pg'), settings: opts.pgSettings });
  await pg.createDatabase('engine');
  const temporalDbFile = path.join(dir, 'temporal.db');
  let temporal = await startTemporalOf(temporalKind, pg, temporalDbFile);
  const catalogFile = path.join(dir, 'catalog.yaml');
  fs.writeFileSync(catalogFile, opts.catalog);
  // Workers load prebuilt workflow code, as in production: a restart after SIGKILL skips webpack.
  const bundle = await writeWorkflowBundle(path.join(dir, 'workflow-bundle.js'));
  const apiKey = `bench-${randomBytes(16).toString('hex')}`;
  const apiPort = await freePort();
  const { privateKey } = generateKeyPairSync('ed25519');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: pg.urlFor('engine'),
    TEMPORAL_ADDRESS: temporal.address,
    TASK_QUEUE: 'erasure-bench',
    ERASURE_CATALOG: catalogFile,
    ENGINE_MASTER_KEY: randomBytes(32).toString('base64'),
    SUBJECT_HASH_SECRET: randomBytes(24).toString('hex'),
    SIGNING_KEY_PEM: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    API_KEYS: `bench:intake,operator,read,certificates:${hashApiKey(apiKey)}`,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    LOG_LEVEL: opts.logLevel ?? 'warn',
    WORKFLOW_BUNDLE: bundle.file,
    ...opts.extraEnv,
  };
  const ledger = new Pool({ connectionString: env.DATABASE_URL, max: 4 });
  ledger.on('error', () => undefined); // an idle connection dropped by a restart is replaced on next use
  let clientConn: Connection | undefined;

  const cluster: Cluster = {
    dir,
    pg,
    get temporal() {
      return temporal;
    },
    temporalDbFile,
    env,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    apiKey,
    worker: undefined,
    temporalKind,
    workers: [],
    api: undefined,
    ledger,
    async startWorker() {
      const n = cluster.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).length;
      const { proc, ready } = spawnEngine('bench/lib/worker-main.ts', env, path.join(dir, n === 0 ? 'worker.log' : `worker-${n + 1}.log`), 'BENCH_WORKER_READY');
      if (n === 0) cluster.worker = proc;
      cluster.workers.push(proc);
      await ready;
      return proc;
    },
    async startApi() {
      const { proc } = spawnEngine('src/api/main.ts', env, path.join(dir, 'api.log'));
      cluster.api = proc;
      await Promise.race([
        waitForPort(apiPort, 120_000, 'API'),
        proc.exited.then(() => {
          throw new Error(`API exited early; see ${path.join(dir, 'api.log')}`);
        }),
      ]);
      return proc;
    },
    async stopTemporal() {
      await temporal.stop();
    },
    async startTemporal() {
      temporal = await startTemporalOf(temporalKind, pg, temporalDbFile, temporal.port);
    },
    async temporalClient() {
      clientConn ??= await Connection.connect({ address: temporal.address });
      return new Client({ connection: clientConn, namespace: 'default' });
    },
    async stop({ keepDir = false } = {}) {
      unregister();
      await cluster.api?.kill();
      await cluster.worker?.kill();
      for (const w of cluster.workers) await w.kill();
      await clientConn?.close().catch(() => undefined);
      await ledger.end().catch(() => undefined);
      await temporal.stop();
      await pg.stop();
      if (!keepDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const unregister = onCleanup(() => cluster.stop());
  try {
    // The worker migrates the ledger; the API waits for it so two migrations never race.
    if (opts.worker !== false) for (let i = 0; i < (opts.workers ?? 1); i++) await cluster.startWorker();
    if (opts.api !== false) await cluster.startApi();
  } catch (err) {
    await cluster.stop({ keepDir: true });
    throw err;
  }
  return cluster;
}

/** Resident memory (bytes) and CPU time (seconds, user + system) of a process, from /proc. */
export function processStats(pid: number): { rssBytes: number; cpuSeconds: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rssBytes: rssKb * 1024, cpuSeconds: readStat(`/proc/${pid}/stat`)?.cpu ?? 0 };
}

/** Size of the dev server's SQLite database with its WAL. */
export function sqliteSize(dbFile: string): number {
  return ['', '-wal', '-shm'].reduce((sum, s) => sum + (fs.existsSync(dbFile + s) ? fs.statSync(dbFile + s).size : 0), 0);
}

/** The body of `POST /erasures` for request number `i` of a run. */
export function erasureBody(runId: string, i: number) {
  return { requestId: `${runId}-${i}`, jurisdiction: 'GDPR', subject: { email: `subject-${runId}-${i}@example.com`, userId: `u-${runId}-${i}` } };
}

/** Calls the API with the cluster's key. */
export async function api(cluster: Cluster, method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${cluster.apiUrl}${url}`, {
    method,
    headers: { authorization: `Bearer ${cluster.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    // A call that never answers would stall its lane forever; pool() retries it (idempotent by request id).
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

/**
 * Runs `task(i)` for i in [0, n) with at most `concurrency` in flight; a failing call is retried (the
 * API is idempotent by request id) until `deadline`, so a request is never silently dropped.
 */
export async function pool<T>(n: number, concurrency: number, task: (i: number) => Promise<T>, deadline = Date.now() + 3_600_000): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < n; i = next++) {
      for (;;) {
        try {
          out[i] = await task(i);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(250);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return out;
}

/** Submits one erasure; throws unless the API answered 200/202. */
export async function submit(cluster: Cluster, body: unknown): Promise<{ status: number; json: any }> {
  const r = await api(cluster, 'POST', '/erasures', body);
  if (r.status !== 202 && r.status !== 200) throw new Error(`POST /erasures answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r;
}

/** Polls `probe` until it returns true or `timeoutMs` passes (then throws with `what`). */
export async function until(probe: () => Promise<boolean>, what: string, timeoutMs: number, everyMs = 500): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Number of certificates issued for requests whose id starts with `prefix`. */
export async function certified(cluster: Cluster, prefix: string): Promise<number> {
  const { rows } = await cluster.ledger.query<{ n: string }>(`SELECT count(*) AS n FROM certificates WHERE request_id LIKE $1 || '%'`, [prefix]);
  return Number(rows[0].n);
}

/** Open workflows with a given ErasureStatus (Temporal visibility). */
export async function countByStatus(cluster: Cluster, status: string): Promise<number> {
  const client = await cluster.temporalClient();
  const { count } = await client.workflow.count(`ErasureStatus = "${status}" AND ExecutionStatus = "Running"`);
  return count;
}
