/**
 * A worker process killed (SIGKILL) in the middle of a large erase: Temporal notices the missing
 * heartbeats, retries the activity on another worker process, which resumes from the last heartbeat; the
 * receipt's counts still add up to every row the subject had.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type pg from 'pg';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { systemPlan } from '../../src/catalog/load';
import { catalogSchema } from '../../src/catalog/schema';
import type { SystemTask } from '../../src/activities/types';
import { devServerEnv } from '../harness/temporal';
import { freshDatabase, warmUp } from './servers';

warmUp('postgres');

const ROWS = 100_000;
const fixtures = path.join(__dirname, 'fixtures');

/** Starts an activity-only worker process and resolves once it polls. */
function startActivityWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(fixtures, 'activity-worker.ts')], {
    cwd: path.resolve(__dirname, '..', '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      output += b.toString();
      if (output.includes('worker ready')) resolve(child);
    });
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    child.once('exit', (code, signal) => reject(new Error(`activity worker exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('a worker killed during a large erase (real Temporal dev server, real PostgreSQL)', function () {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let db: pg.Client;
  let url: string;
  const children: ChildProcess[] = [];

  before(async function () {
    [env, bundle, { client: db, url }] = await Promise.all([
      devServerEnv(),
      bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/erase-workflow'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } }),
      freshDatabase('connector_crash'),
    ]);
    await db.query(`
      CREATE TABLE big (id bigint PRIMARY KEY, user_id text NOT NULL, payload text);
      CREATE INDEX ON big (user_id, id);
      INSERT INTO big SELECT g, 'u-crash', repeat('x', 50) FROM generate_series(1, ${ROWS}) g;
      INSERT INTO big SELECT g, 'u-keep', 'keep' FROM generate_series(${ROWS + 1}, ${ROWS + 500}) g;
      ANALYZE big;
    `);
  });

  after(async () => {
    await Promise.all(children.map(stop));
    await db?.end();
    await env?.teardown();
  });

  it('resumes on another worker from the last heartbeat, and the counts add up', async () => {
    const catalog = catalogSchema.parse({
      systems: [{ id: 'events-db', kind: 'postgres', connection: url, tables: [{ table: 'big', match: { column: 'user_id', identifier: 'userId' }, action: 'delete' }] }],
    });
    const taskQueue = `crash-${Date.now()}`;
    const workerEnv = { TEMPORAL_ADDRESS: env.address, TASK_QUEUE: taskQueue, ERASURE_TEST_CATALOG: JSON.stringify(catalog) };
    const first = await startActivityWorker(workerEnv);
    children.push(first);

    const workflowWorker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle });
    const task: SystemTask = { requestId: 'crash-1', subject: { userId: 'u-crash' }, subjectRef: 'subj_crash', system: systemPlan(catalog.systems[0]) };

    const outcome = await workflowWorker.runUntil(async () => {
      const handle = await env.client.workflow.start('eraseOneSystemWorkflow', { taskQueue, workflowId: `crash-${Date.now()}`, args: [task] });
      const left = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM big WHERE user_id = 'u-crash'`)).rows[0].n;
      const until = async (done: (n: number) => boolean) => {
        for (let i = 0; i < 1200; i++) {
          if (done(await left())) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error('the erase made no progress');
      };
      // Once the first worker is erasing, a second one starts (it has nothing to do until the retry).
      await until((n) => n < ROWS);
      const second = startActivityWorker(workerEnv);
      // Kill the first without warning when it is well into the erase.
      await until((n) => n <= ROWS * 0.8);
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      const atKill = await left();
      assert.ok(atKill > 0 && atKill < ROWS, `killed mid-erase (${atKill} of ${ROWS} rows left)`);
      children.push(await second);
      const result = (await handle.result()) as { erased: { erased: number; found: number; details: Record<string, number> }; verified: { remaining: number } };
      return { result, atKill };
    });

    const { erased, verified } = outcome.result;
    assert.ok(erased.details.attempt >= 2, `completed on attempt ${erased.details.attempt}`);
    assert.equal(erased.details.resumed, 1, 'the retried attempt started from the heartbeat details');
    assert.equal(erased.erased, ROWS, 'rows erased before and after the crash add up');
    assert.equal(erased.found, ROWS);
    assert.equal(verified.remaining, 0);
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM big WHERE user_id = 'u-keep'`)).rows[0].n, 500);
    console.log(`      killed the worker with ${outcome.atKill} of ${ROWS} rows left; attempt ${erased.details.attempt} resumed and finished`);
  });
});
