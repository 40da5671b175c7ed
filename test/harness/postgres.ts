/**
 * One real PostgreSQL server per test process, started on first use and stopped once every test file has
 * run. Suites never share a database: each asks for a fresh one by name. Never skipped: without the server
 * binaries (`npm run setup`) the tests that need it fail loudly.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres, type PostgresServer } from '../../src/dev/servers';

let server: Promise<PostgresServer> | undefined;
let dataDir: string | undefined;
let counter = 0;

/**
 * The process's PostgreSQL server; the first call starts it.
 * @example const pg = await sharedPostgres(); const name = await freshDatabase(pg, 'engine');
 */
export function sharedPostgres(): Promise<PostgresServer> {
  if (!server) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-test-pg-'));
    server = startPostgres({ dataDir });
    // A failed start is reported to every caller, not retried: the same binaries would fail again.
    server.catch(() => undefined);
  }
  return server;
}

/**
 * Creates a database no other suite of this process uses and returns its name (`prefix_<pid>_<n>`).
 * @example const url = pg.urlFor(await freshDatabase(pg, 'ledger'));
 */
export async function freshDatabase(pg: PostgresServer, prefix: string): Promise<string> {
  const name = `${prefix}_${process.pid}_${++counter}`;
  await pg.createDatabase(name);
  return name;
}

/** Stops the server (if it was started) and deletes its data folder. */
async function stopSharedPostgres(): Promise<void> {
  const started = server;
  server = undefined;
  if (started) await started.then((s) => s.stop(), () => undefined);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
}

// A root-level hook (this module is loaded with the test files, before any suite runs): it runs once,
// after the last test file. Guarded so that the module can also be loaded outside mocha.
if (typeof after === 'function') {
  after(stopSharedPostgres);
}

// mocha --exit ends the process right after the run; if the hook above never ran (an aborted run),
// signal the postmaster itself, which `runuser` would not pass a signal on to.
process.once('exit', () => {
  if (!dataDir) return;
  try {
    const pid = parseInt(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0], 10);
    if (pid > 0) process.kill(pid, 'SIGINT');
  } catch {
    // not running
  }
});
