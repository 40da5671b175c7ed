/**
 * The API keeps the contract it publishes, measured by an outside tool: schemathesis (PyPI, installed into
 * .tools/venv by `npm run setup`) runs every one of its checks over the served /openapi.json against the real
 * API on the Temporal dev server and PostgreSQL. A missing install fails the test with how to fix it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { keys, startStack, type Stack } from '../harness/stack';

const root = path.resolve(__dirname, '../..');
const script = path.join(root, 'scripts/schemathesis.sh');
const binary = path.join(root, '.tools/venv/bin/schemathesis');

/** Runs the script without blocking the event loop: the API answering schemathesis lives in this process. */
function runSchemathesis(url: string, key: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a run past its time is stopped whole (bash waits for schemathesis).
    const child = spawn('bash', [script, url, key], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const killer = setTimeout(() => process.kill(-child.pid!, 'SIGTERM'), 150_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, output });
    });
  });
}

/** Fails with schemathesis' own report unless it exited 0 having generated cases; logs how many. */
function assertNoFailure({ code, output }: { code: number | null; output: string }): void {
  const counted = /Test cases:\s+(\d+ generated[^\n]*)/.exec(output);
  process.stdout.write(`      schemathesis: ${counted?.[1] ?? 'no count printed'}\n`);
  assert.equal(code, 0, `schemathesis reported failures (exit ${code}):\n${output}`);
  assert.ok(counted && Number.parseInt(counted[1], 10) > 0, `schemathesis generated no case:\n${output}`);
}

describe('the OpenAPI contract, measured by schemathesis --checks all (dev server, real worker)', function () {
  this.timeout(240_000);
  let stack: Stack;

  before(async function () {
    assert.ok(
      fs.existsSync(binary),
      `schemathesis is not installed (${path.relative(root, binary)} is missing): run \`npm run setup\`, or \`python3 -m venv .tools/venv && .tools/venv/bin/pip install schemathesis==4.32.5\``,
    );
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('finds no failure in any case generated over every operation', async () => {
    assertNoFailure(await runSchemathesis(stack.api.url, keys.all));
  });
});
