/**
 * The worker's workflow cache, as an operator configures it: `npm run worker` processes started with a
 * bounded heap, with WORKER_MAX_CACHED_WORKFLOWS, and with an invalid value. Unset, the cache must be sized
 * from the heap (a fixed 1,000 runs killed the workflow thread of a 600 MiB worker in the idle-cost benchmark).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeWorkflowBundle } from '../../src/temporal/workflow-bundle';
import { defaultWorkflowCacheSize, oldGenerationLimitMiB } from '../../src/worker';
import { startStack, type Stack } from '../harness/stack';

const root = path.resolve(__dirname, '..', '..');

/**
 * Runs src/worker.ts until it logs 'worker polling' (then stops it) or exits; returns what it printed,
 * the cache size it logged, and its exit code when it exited by itself.
 */
function runWorker(env: NodeJS.ProcessEnv): Promise<{ output: string; maxCachedWorkflows?: number; exitCode?: number }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(root, 'src/worker.ts')], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let polled: number | undefined;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker neither polled nor exited in 120 s:\n${output}`));
    }, 120_000);
    child.stdout!.on('data', (b: Buffer) => {
      output += b.toString();
      const line = output.split('\n').find((l) => l.includes('"worker polling"'));
      if (line && polled === undefined) {
        polled = (JSON.parse(line) as { maxCachedWorkflows: number }).maxCachedWorkflows;
        child.kill('SIGTERM');
      }
    });
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(polled !== undefined ? { output, maxCachedWorkflows: polled } : { output, exitCode: code ?? undefined });
    });
  });
}

describe('worker workflow cache (WORKER_MAX_CACHED_WORKFLOWS)', function () {
  this.timeout(400_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-cache-'));
  let stack: Stack | undefined;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    stack = await startStack();
    const bundle = await writeWorkflowBundle(path.join(dir, 'workflow-bundle.js'));
    // Its own task queue, so these workers never take the stack's tasks.
    env = { ...stack.env, TASK_QUEUE: `cache-${randomBytes(4).toString('hex')}`, WORKFLOW_BUNDLE: bundle.file, ERASURE_DATA_DIR: dir };
  });
  after(async () => {
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('unset, a worker with a 400 MiB heap caches only what fits in it', async () => {
    const { output, maxCachedWorkflows, exitCode } = await runWorker({ ...env, NODE_OPTIONS: '--max-old-space-size=400' });
    assert.equal(exitCode, undefined, output);
    // About 1.7 MiB per cached run above a 200 MiB base: 117 runs, far below a fixed 1,000, and the same on
    // every Node version (Node 24's larger young generation does not count).
    assert.equal(maxCachedWorkflows, defaultWorkflowCacheSize(400), output);
    assert.equal(maxCachedWorkflows, 117);
  });

  it('reads the old-generation limit from NODE_OPTIONS and the command line, the command line winning', () => {
    assert.equal(oldGenerationLimitMiB('--max-old-space-size=400', []), 400);
    assert.equal(oldGenerationLimitMiB('--trace-warnings --max_old_space_size=300', ['--max-old-space-size=800']), 800);
    assert.equal(oldGenerationLimitMiB('--max-old-space-size=1x', []), oldGenerationLimitMiB(undefined, []), 'a malformed flag is not a size');
    assert.ok(oldGenerationLimitMiB(undefined, []) > 0);
    assert.equal(defaultWorkflowCacheSize(100), 10, 'never fewer than 10');
  });

  it('uses a configured size, and refuses one below 2 with a message naming the setting', async () => {
    const set = await runWorker({ ...env, WORKER_MAX_CACHED_WORKFLOWS: '7' });
    assert.equal(set.maxCachedWorkflows, 7, set.output);
    const bad = await runWorker({ ...env, WORKER_MAX_CACHED_WORKFLOWS: '1' });
    assert.equal(bad.exitCode, 1, bad.output);
    assert.match(bad.output, /WORKER_MAX_CACHED_WORKFLOWS: must be at least 2/);
  });
});
