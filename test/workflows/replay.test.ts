/**
 * Replays every committed history (test/histories/*.json) against the current workflow code, so a change
 * that would break running erasures (a nondeterministic change without patched()) fails CI.
 * Record new ones with: RECORD_HISTORIES=1 npx mocha test/workflows/erasure-workflow.test.ts (or
 * identity-enrichment.test.ts)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';

const dir = path.join(__dirname, '..', 'histories');

describe('replay of committed workflow histories', function () {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

  it('has at least the happy-path, overdue, legal-hold and derived-identifier histories', () => {
    // derived-*: recorded with the `derive-identifiers` patch (a provider identified before any erase).
    // operator-actions-ledger, held-roll-over, carried-refused: the patches that keep signals from wedging a request.
    const bounded = ['operator-actions-ledger.json', 'held-roll-over.json', 'carried-refused.json'];
    for (const name of ['happy-path.json', 'overdue.json', 'legal-hold.json', 'derived-identifiers.json', 'derived-identify-retry.json', ...bounded]) {
      assert.ok(files.includes(name), `${name} is committed`);
    }
  });

  it('replays every history without nondeterminism', async () => {
    const histories = files.map((f) => ({
      workflowId: path.basename(f, '.json'),
      history: historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))),
    }));
    const results = Worker.runReplayHistories({ workflowsPath: require.resolve('../../src/workflows') }, histories);
    let replayed = 0;
    for await (const r of results) {
      assert.equal(r.error, undefined, `${r.workflowId}: ${r.error?.message}`);
      replayed++;
    }
    assert.equal(replayed, files.length);
  });
});
