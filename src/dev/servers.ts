/**
 * Starts the real servers the engine runs on locally and in tests: PostgreSQL, MinIO and the Temporal dev
 * server. Binaries come from `.tools/paths.json`, written by `scripts/setup.sh`; nothing here downloads.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';

export const projectRoot = path.resolve(__dirname, '..', '..');

/** Where `scripts/setup.sh` put each tool. */
export interface ToolPaths {
  temporal: string;
  tctl: string;
  minio: string;
  testServer: string;
  pgBindir: string;
  elasticsearchHome: string;
  /** The Kafka home assembled by `tools/kafka/setup.sh` (`lib/*.jar`). */
  kafkaHome: string;
  /** mailpit (SMTP server with a web inbox), go-installed; see ./mailpit.ts. */
  mailpit: string;
  /** The Temporal server binary (go.temporal.io/server/cmd/server) for SQL persistence; see ./temporal-server.ts. */
  temporalServer?: string;
  /** Its SQL schema tool (go.temporal.io/server/cmd/tools/sql). */
  temporalSqlTool?: string;
  /** The module's `schema/postgresql/v12` folder (holds `temporal/versioned` and `visibility/versioned`). */
  temporalSchemaDir?: string;
}

/** Reads `.tools/paths.json`; fails loudly when setup has not run. */
export function toolPaths(): ToolPaths {
  const file = path.join(projectRoot, '.tools', 'paths.json');
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run "npm run setup" to install the servers the engine needs`);
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ToolPaths;
}

/** Asks the OS for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, what: string, host = '127.0.0.1'): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`${what} did not listen on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A server process we started and must stop. */
export interface RunningServer {
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** A `stop()` for a child process: `signal`, then SIGKILL after 10 s; resolves once it exited. */
export function stopper(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}

/**
 * Spawns a server and resolves once it listens on `port`; rejects with the tail of its output if it exits
 * first or does not listen within `timeoutMs`.
 */
export async function spawnListening(
  cmd: string,
  args: string[],
  opts: { name: string; port: number; timeoutMs: number; env?: NodeJS.ProcessEnv; log?: (line: string) => void },
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  let output = '';
  const onData = (b: Buffer) => {
    output = (output + b.toString()).slice(-4000);
    opts.log?.(b.toString());
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  await Promise.race([
    waitForPort(opts.port, opts.timeoutMs, opts.name),
    new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`${opts.name} exited with ${code}: ${output}`)))),
  ]);
  return { child, output: () => output };
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** PostgreSQL refuses to run as root; as root we run its binaries as the `postgres` system user. */
function pgCommand(bin: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

export interface PostgresServer extends RunningServer {
  readonly port: number;
  /** Connection URL of the `postgres` database as superuser `postgres` (trust auth on loopback). */
  readonly url: string;
  /** URL of another database on the same server. */
  urlFor(database: string): string;
  /** Creates a database if it does not exist yet. */
  createDatabase(name: string): Promise<void>;
}

/**
 * Starts PostgreSQL on loopback with its own data folder (initialised on first use, kept afterwards).
 * @example const pg = await startPostgres({ dataDir: '/tmp/pgdata' }); ...; await pg.stop();
 */
export async function startPostgres(
  opts: { dataDir?: string; port?: number; log?: (line: string) => void; /** Extra server settings (`-c name=value`), e.g. benchmarks' statement statistics. */ settings?: Record<string, string> } = {},
): Promise<PostgresServer> {
  const { pgBindir } = toolPaths();
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-pg-'));
  const port = opts.port ?? (await freePort());
  fs.mkdirSync(dataDir, { recursive: true });
  if (isRoot) {
    fs.chmodSync(dataDir, 0o700);
    execFileSync('chown', ['-R', 'postgres:postgres', dataDir]);
    // runuser needs to traverse to the folder; tmp folders from mkdtemp are 0700 for root only.
    for (let d = path.dirname(dataDir); d !== '/'; d = path.dirname(d)) {
      try {
        const mode = fs.statSync(d).mode;
        if ((mode & 0o001) === 0) fs.chmodSync(d, mode | 0o001);
      } catch {
        break;
      }
    }
  }
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const [cmd, args] = pgCommand(path.join(pgBindir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    execFileSync(cmd, args, { stdio: 'pipe' });
  }
  const [cmd, args] = pgCommand(path.join(pgBindir, 'postgres'), [
    '-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', dataDir,
    '-c', 'fsync=off', '-c', 'max_connections=200', '-c', 'log_min_messages=warning',
    ...Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ]);
  const { child } = await spawnListening(cmd, args, { name: 'PostgreSQL', port, timeoutMs: 30_000, log: opts.log });
  // The port opens slightly before the server accepts queries; poll with pg until ready.
  const { Client } = await import('pg');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  for (let i = 0; ; i++) {
    const c = new Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const urlFor = (db: string) => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(db)}`;
  return {
    process: child,
    port,
    url,
    urlFor,
    async createDatabase(name: string) {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (!rowCount) await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } finally {
        await c.end();
      }
    },
    // runuser does not pass signals on, so stop the server itself: pg_ctl in fast mode, then wait for it.
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const [cmd, args] = pgCommand(path.join(pgBindir, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      try {
        execFileSync(cmd, args, { stdio: 'pipe', timeout: 30_000 });
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}

export interface MinioServer extends RunningServer {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Starts MinIO on loopback with its own data folder. */
export async function startMinio(opts: { dataDir?: string; port?: number } = {}): Promise<MinioServer> {
  const { minio } = toolPaths();
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-minio-'));
  const port = opts.port ?? (await freePort());
  const consolePort = await freePort();
  const accessKeyId = 'erasure-test';
  const secretAccessKey = 'erasure-test-secret';
  const endpoint = `http://127.0.0.1:${port}`;
  const { child, output } = await spawnListening(
    minio,
    ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'],
    {
      name: 'MinIO',
      port,
      timeoutMs: 60_000,
      env: { ...process.env, MINIO_ROOT_USER: accessKeyId, MINIO_ROOT_PASSWORD: secretAccessKey, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off' },
    },
  );
  // Listening is not ready: wait for the health endpoint before handing it out.
  for (let i = 0; ; i++) {
    const res = await fetch(`${endpoint}/minio/health/ready`).catch(() => undefined);
    if (res?.ok) break;
    if (i >= 300 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`MinIO at ${endpoint} never became ready: ${output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { process: child, endpoint, accessKeyId, secretAccessKey, stop: stopper(child) };
}

export interface TemporalDevServer extends RunningServer {
  readonly address: string;
  readonly port: number;
  readonly uiUrl?: string;
}

/** `--search-attribute` values for the engine's attributes, e.g. `ErasureStatus=Keyword`. */
const searchAttributeFlags = [
  'ErasureStatus=Keyword',
  'ErasureDeadline=Datetime',
  'ErasurePendingSystems=KeywordList',
  'ErasureOverdue=Bool',
  'ErasureJurisdiction=Keyword',
];

/** The dev server's SQLite tuning: write-ahead log, synced at checkpoints (`--sqlite-pragma`). */
export const DEV_SQLITE_PRAGMAS: Readonly<Record<string, string>> = Object.freeze({ journal_mode: 'wal', synchronous: 'normal' });

/**
 * Starts the go-installed Temporal dev server with the engine's search attributes. With `dbFile` its state
 * survives restarts (SQLite); with `uiPort` the Web UI listens too.
 * @example const t = await startTemporalDevServer({ dbFile: '.data/temporal.db', port: 7233, uiPort: 8233 });
 */
export async function startTemporalDevServer(
  opts: {
    port?: number;
    dbFile?: string;
    uiPort?: number;
    codecEndpoint?: string;
    log?: (line: string) => void;
    /** SQLite pragmas of a file-backed server (default {@link DEV_SQLITE_PRAGMAS}; `{}` for SQLite's own). */
    sqlitePragmas?: Record<string, string>;
  } = {},
): Promise<TemporalDevServer> {
  const { temporal } = toolPaths();
  const port = opts.port ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error', '--http-port', String(await freePort())];
  args.push('--metrics-port', String(await freePort()));
  if (opts.dbFile) {
    fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
    // A write-ahead log, synced at checkpoints rather than at every commit: a crash of the machine may lose the
    // last moments of Temporal's state but never corrupts the file (the dev server is not a production store).
    for (const [pragma, value] of Object.entries(opts.sqlitePragmas ?? DEV_SQLITE_PRAGMAS)) args.push('--sqlite-pragma', `${pragma}=${value}`);
  }
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort), '--ui-ip', '127.0.0.1');
  else args.push('--headless');
  if (opts.codecEndpoint) args.push('--ui-codec-endpoint', opts.codecEndpoint);
  for (const sa of searchAttributeFlags) args.push('--search-attribute', sa);
  const { child } = await spawnListening(temporal, args, { name: 'Temporal dev server', port, timeoutMs: 60_000, log: opts.log });
  // The frontend opens its port before it serves ("Frontend is not healthy yet"): callers get a server that answers.
  try {
    await untilFrontendAnswers(`127.0.0.1:${port}`, 30_000);
  } catch (err) {
    await stopper(child)();
    throw err;
  }
  return {
    process: child,
    port,
    address: `127.0.0.1:${port}`,
    uiUrl: opts.uiPort ? `http://localhost:${opts.uiPort}` : undefined,
    stop: stopper(child),
  };
}

/** Resolves once the Temporal frontend at `address` answers GetSystemInfo; rejects with its last error after `timeoutMs`. */
async function untilFrontendAnswers(address: string, timeoutMs: number): Promise<void> {
  const stop = Date.now() + timeoutMs;
  for (;;) {
    try {
      // connect() itself asks the frontend for its system info, which fails until the frontend is healthy.
      const c = await Connection.connect({ address, connectTimeout: 2_000 });
      await c.close();
      return;
    } catch (err) {
      if (Date.now() > stop) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
