/**
 * `erasure bulk` before it reaches the API: a ticket's list is read strictly (each line a request id, named
 * by line number when not), an empty selection or a missing key is refused (exit 2) and an API that does not
 * answer is exit 5, each with a message that says what to do.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { readRequestIds, registerBulkCommands } from '../../src/cli/bulk';
import { captureIo } from '../harness/cli-io';

describe('erasure bulk (command line, before the API)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-bulk-cli-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  async function bulk(env: NodeJS.ProcessEnv, ...args: string[]) {
    const c = captureIo(env);
    const program = new Command('erasure').exitOverride();
    registerBulkCommands(program, c.io);
    await program.parseAsync(['node', 'erasure', 'bulk', ...args]);
    return c;
  }

  it('reads a ticket: ids one a line, comments and blank lines skipped, repeats once', async () => {
    assert.deepEqual(await readRequestIds(file('ok.txt', '# T-123\nreq-1\r\n\n  req-2  # second\nreq-1\n')), ['req-1', 'req-2']);
  });

  it('names the lines that are not request ids, and refuses a list without any', async () => {
    const c = await bulk({ ERASURE_API_KEY: 'k' }, 'confirm', '--system', 'crm', '--requests', file('bad.txt', "req-1\njane@example.org\nreq-2\n'; DROP\n"), '--dry-run');
    assert.equal(c.code(), 2);
    assert.match(c.err.join('\n'), /bad\.txt: lines 2, 4 not a request id/);
    assert.doesNotMatch(c.err.join('\n'), /jane/, 'the offending text is not echoed');
    const empty = await bulk({ ERASURE_API_KEY: 'k' }, 'retry', '--system', 'crm', '--requests', file('empty.txt', '# nothing\n\n'));
    assert.equal(empty.code(), 2);
    assert.match(empty.err.join('\n'), /lists no request id/);
  });

  it('refuses an empty selection and a missing key, and says which API did not answer', async () => {
    const none = await bulk({ ERASURE_API_KEY: 'k' }, 'extend', '--days', '30', '--reason', 'complex');
    assert.equal(none.code(), 2);
    assert.match(none.err.join('\n'), /choose the requests: --requests FILE, --query/);
    const keyless = await bulk({}, 'retry', '--system', 'crm', '--status', 'needs_attention', '--dry-run');
    assert.equal(keyless.code(), 2);
    assert.match(keyless.err.join('\n'), /an API key is required: --api-key or ERASURE_API_KEY/);
    const badDays = await bulk({ ERASURE_API_KEY: 'k' }, 'extend', '--days', 'soon', '--reason', 'x', '--status', 'overdue');
    assert.equal(badDays.code(), 2);
    const away = await bulk({ ERASURE_API_KEY: 'k', ERASURE_API_URL: 'http://127.0.0.1:1' }, 'retry', '--system', 'crm', '--status', 'needs_attention', '--dry-run');
    assert.equal(away.code(), 5);
    assert.match(away.err.join('\n'), /cannot reach the API at http:\/\/127\.0\.0\.1:1/);
    const badUrl = await bulk({ ERASURE_API_KEY: 'k', ERASURE_API_URL: 'ftp://x' }, 'retry', '--system', 'crm', '--status', 'needs_attention', '--dry-run');
    assert.equal(badUrl.code(), 2);
    assert.match(badUrl.err.join('\n'), /ERASURE_API_URL/);
  });
});
