/**
 * The erasure workflow on the Java time-skipping server with recording mock activities, for the workflow
 * test files: a fresh server per test, a worker per run, history recording for the replay suite, and a
 * status poll that does not let the server skip ahead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { ErasureActivities } from '../../src/activities/types';
import type { ErasureStatusView } from '../../src/domain';
import { erasureWorkflow } from '../../src/workflows';
import { statusQuery, workflowIdFor, type ErasureInput } from '../../src/workflows/definitions';
import { recordingActivities, type Calls } from '../harness/plans';
import { timeSkippingEnv } from '../harness/temporal';

export const DAY = 86_400_000;

export interface Testbed {
  /** The current test's environment. */
  readonly env: TestWorkflowEnvironment;
  /** Starts the workflow under a worker with recording mocks and runs `body` against its handle. */
  run<T>(
    input: ErasureInput,
    body: (h: WorkflowHandleWithFirstExecutionRunId<typeof erasureWorkflow>, calls: Calls) => Promise<T>,
    overrides?: Partial<ErasureActivities>,
  ): Promise<T>;
  /** The server's (skipped) time. */
  now(): Promise<Date>;
  /** With RECORD_HISTORIES=1, saves a completed run's history for the replay suite (test/histories/). */
  record(name: string, h: WorkflowHandle): Promise<void>;
  /** Polls the status query (in real time, so the server does not skip ahead) until `pred` holds. */
  until(h: WorkflowHandle, pred: (s: ErasureStatusView) => boolean, what: string): Promise<ErasureStatusView>;
}

/**
 * Registers the mocha hooks of a workflow suite (call inside `describe`) and returns its helpers.
 * @example const bed = workflowTestbed(); it('…', () => bed.run(input(p, now), async (h) => { … }));
 */
export function workflowTestbed(): Testbed {
  let env: TestWorkflowEnvironment | undefined;
  let bundle: WorkflowBundleWithSourceMap;

  before(async function () {
    bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger });
  });
  // A fresh time-skipping server per test: skipped time and long-lived connections never leak between tests.
  beforeEach(async () => {
    env = await timeSkippingEnv();
  });
  afterEach(async () => {
    await env?.teardown();
    env = undefined;
  });

  const current = (): TestWorkflowEnvironment => {
    if (!env) throw new Error('no time-skipping environment outside a test');
    return env;
  };

  return {
    get env() {
      return current();
    },
    async run(input, body, overrides = {}) {
      const e = current();
      const { activities, calls } = recordingActivities(overrides);
      const taskQueue = `test-${randomUUID()}`;
      // Heartbeats reach the server at once, as in the engine's worker, so a cancellation reaches an activity quickly.
      const worker = await Worker.create({ connection: e.nativeConnection, taskQueue, workflowBundle: bundle, activities, maxHeartbeatThrottleInterval: '100 ms' });
      return worker.runUntil(async () => {
        const handle = await e.client.workflow.start(erasureWorkflow, { args: [input], taskQueue, workflowId: workflowIdFor(input.requestId) });
        return body(handle, calls);
      });
    },
    now: async () => new Date(await current().currentTimeMs()),
    async record(name, h) {
      if (process.env.RECORD_HISTORIES !== '1') return;
      // RECORD_HISTORIES_TAG keeps the histories of earlier workflow versions beside the new ones.
      const tag = process.env.RECORD_HISTORIES_TAG ? `-${process.env.RECORD_HISTORIES_TAG}` : '';
      const history = await h.fetchHistory();
      fs.writeFileSync(path.join(__dirname, '..', 'histories', `${name}${tag}.json`), historyToJSON(history));
    },
    async until(h, pred, what) {
      const stop = Date.now() + 20_000;
      for (;;) {
        const s = await h.query(statusQuery);
        if (pred(s)) return s;
        if (Date.now() > stop) throw new Error(`timed out waiting for ${what}; status: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

const quietLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};
