/**
 * Temporal test environments on real servers: the Java time-skipping server (for day-long timers) and the
 * go-installed dev server (for end-to-end runs and the real temporal/tctl CLIs). Neither ever downloads.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { registerSearchAttributes } from '../../src/temporal/search-attributes';
import { erasureSearchAttributes } from '../../src/workflows/definitions';
import { toolPaths } from '../../src/dev/servers';

/** A fresh time-skipping environment with the engine's search attributes; never share one between parallel tests. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: toolPaths().testServer } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** A dev server (SQLite in memory) with the engine's search attributes registered. */
export function devServerEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPaths().temporal },
      searchAttributes: [...erasureSearchAttributes],
      ip: '127.0.0.1',
    },
  });
}
