/**
 * The whole engine on real servers, in-process: a fresh database on the process's shared PostgreSQL, the
 * go-installed Temporal dev server, the worker and the API on port 0. Logs are captured so tests can scan them.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import type { Worker } from '@temporalio/worker';
import { hashApiKey } from '../../src/api/auth';
import { startApi, startCodecServer, type RunningApi } from '../../src/api/main';
import type { ConnectorFactory } from '../../src/systems/registry';
import type { SystemConfig } from '../../src/catalog/schema';
import { freePort, startTemporalDevServer, type PostgresServer, type TemporalDevServer } from '../../src/dev/servers';
import { openEngine, type Engine } from '../../src/engine';
import { createEngineWorker } from '../../src/worker';
import { capturingLogger } from './logs';
import { freshDatabase, sharedPostgres } from './postgres';

export const keys = {
  intake: 'test-intake-key-0123456789',
  operator: 'test-operator-key-0123456789',
  read: 'test-read-key-0123456789',
  all: 'test-all-key-0123456789',
};

export interface Stack {
  /** The shared server; the stack's database on it is `env.DATABASE_URL`. */
  pg: PostgresServer;
  temporal: TemporalDevServer;
  engine: Engine;
  api: RunningApi;
  worker: Worker;
  /** Every log line the engine wrote. */
  logs: string[];
  dataDir: string;
  env: NodeJS.ProcessEnv;
  /** Restarts the Temporal dev server on the same port and SQLite file. */
  stopTemporal(): Promise<void>;
  startTemporal(): Promise<void>;
  stop(): Promise<void>;
}

export const manualCatalog = `
systems:
  - id: legacy-billing
    kind: manual
    owner: billing-team
    reminderEvery: 3d
`;

/**
 * Starts everything. `catalog` is YAML; `connectors` the factories the worker may use.
 */
export async function startStack(
  opts: {
    catalog?: string;
    connectors?: Partial<Record<SystemConfig['kind'], ConnectorFactory>>;
    env?: NodeJS.ProcessEnv;
    /** More `API_KEYS` entries (`name:scopes:sha256`) beside the stack's own {@link keys}. */
    apiKeys?: string[];
    /** Also the Temporal Web UI, decoding through the engine's codec server (as `npm start` wires them). */
    ui?: boolean;
    /**
     * Use this running Temporal server (e.g. src/dev/temporal-server.ts on PostgreSQL) instead of starting the dev
     * server; the caller registers the search attributes and stops it. `stopTemporal`/`startTemporal` then throw.
     */
    temporal?: { address: string };
  } = {},
): Promise<Stack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-stack-'));
  const { logger, raw: logs } = capturingLogger();
  const pg = await sharedPostgres();
  const database = await freshDatabase(pg, 'engine');
  const dbFile = path.join(dataDir, 'temporal.db');
  // The Web UI decodes through the codec server at a secret path, as `npm start` wires it.
  const ui = opts.ui ? { uiPort: await freePort(), codecPort: await freePort(), pathToken: randomBytes(18).toString('base64url') } : undefined;
  const uiOptions = ui ? { uiPort: ui.uiPort, codecEndpoint: `http://localhost:${ui.codecPort}/${ui.pathToken}` } : {};
  const given = opts.temporal;
  let temporal: TemporalDevServer = given
    ? { address: given.address, port: Number(given.address.split(':').pop()), process: undefined as never, stop: async () => undefined }
    : await startTemporalDevServer({ dbFile, ...uiOptions });
  const catalogFile = path.join(dataDir, 'catalog.yaml');
  fs.writeFileSync(catalogFile, opts.catalog ?? manualCatalog);
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: pg.urlFor(database),
    TEMPORAL_ADDRESS: temporal.address,
    TASK_QUEUE: `erasure-test-${randomBytes(4).toString('hex')}`,
    ERASURE_CATALOG: catalogFile,
    ENGINE_MASTER_KEY: randomBytes(32).toString('base64'),
    SUBJECT_HASH_SECRET: randomBytes(24).toString('hex'),
    API_KEYS: [
      `intake:intake:${hashApiKey(keys.intake)}`,
      `operator:operator:${hashApiKey(keys.operator)}`,
      `reader:read:${hashApiKey(keys.read)}`,
      `admin:intake,operator,read,certificates:${hashApiKey(keys.all)}`,
      ...(opts.apiKeys ?? []),
    ].join(';'),
    ...opts.env,
  };
  let engine: Engine | undefined;
  let connection: NativeConnection | undefined;
  let wired: Awaited<ReturnType<typeof createEngineWorker>>;
  try {
    engine = await openEngine({ env, logger, dataDir, role: 'test' });
    connection = await NativeConnection.connect({ address: temporal.address });
    wired = await createEngineWorker(engine, { connectors: opts.connectors ?? {}, connection });
  } catch (err) {
    // A stack that fails to start (e.g. a worker refusing its configuration) leaves no server behind.
    await connection?.close().catch(() => undefined);
    await engine?.close().catch(() => undefined);
    await temporal.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const { worker, close: closeWorker } = wired;
  const running = worker.run();
  const api = await startApi(engine, { port: 0, relayIntervalMs: 500 });
  const codec = ui ? await startCodecServer(engine, { port: ui.codecPort, pathToken: ui.pathToken, corsOrigins: [`http://localhost:${ui.uiPort}`, `http://127.0.0.1:${ui.uiPort}`] }) : undefined;
  return {
    pg,
    get temporal() {
      return temporal;
    },
    engine,
    api,
    worker,
    logs,
    dataDir,
    env,
    async stopTemporal() {
      if (given) throw new Error('stopTemporal: this stack runs on a Temporal server it did not start');
      await temporal.stop();
    },
    async startTemporal() {
      if (given) throw new Error('startTemporal: this stack runs on a Temporal server it did not start');
      temporal = await startTemporalDevServer({ dbFile, port: temporal.port, ...uiOptions });
    },
    async stop() {
      await new Promise<void>((resolve) => (codec ? codec.close(() => resolve()) : resolve()));
      codec?.closeAllConnections();
      await api.close();
      worker.shutdown();
      await running.catch(() => undefined);
      await closeWorker();
      await connection!.close().catch(() => undefined);
      await engine!.close();
      await temporal.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  } as Stack;
}

/** fetch() against the stack's API with a key. */
export function http(stack: Stack, key?: string) {
  return async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${stack.api.url}${url}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, headers: res.headers };
  };
}

/** Polls until `fn` returns a truthy value, in real time. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
