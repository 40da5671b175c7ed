/**
 * One real Kafka broker per test process, started on first use and stopped once every test file has run.
 * Suites share it, so each uses topic and group names of its own (`uniqueName`). Never skipped: without
 * the Kafka home (`npm run setup`) the tests that need it fail loudly.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKafka, type KafkaServer } from '../../src/dev/kafka';

let server: Promise<KafkaServer> | undefined;
let dataDir: string | undefined;
let running: ChildProcess | undefined;
let counter = 0;

/**
 * The process's Kafka broker; the first call starts it.
 * @example const kafka = await sharedKafka(); const admin = createKafkaAdmin(kafka.bootstrap);
 */
export function sharedKafka(): Promise<KafkaServer> {
  if (!server) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-test-kafka-'));
    server = startKafka({ dataDir });
    // A failed start is reported to every caller, not retried: the same home would fail again.
    server.then((s) => (running = s.process), () => undefined);
  }
  return server;
}

/** A topic or group name no other suite of this process uses: `prefix-<pid>-<n>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}

/** Stops the broker (if it was started) and deletes its data folder. */
async function stopSharedKafka(): Promise<void> {
  const started = server;
  server = undefined;
  if (started) await started.then((s) => s.stop(), () => undefined);
  running = undefined;
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
}

// A root-level hook (this module is loaded with the test files, before any suite runs): it runs once,
// after the last test file. Guarded so that the module can also be loaded outside mocha.
if (typeof after === 'function') {
  after(stopSharedKafka);
}

// mocha --exit ends the process right after the run; if the hook above never ran (an aborted run), the
// broker's JVM must not outlive the tests.
process.once('exit', () => {
  if (running && running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
});
