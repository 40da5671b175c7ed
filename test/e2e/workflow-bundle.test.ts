/**
 * Prebuilt workflow code: `erasure bundle-workflows` writes a bundle, a worker started with WORKFLOW_BUNDLE
 * runs erasures from it on the real dev server, and a bundle that does not match the sources is refused.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { publicKeysFromJwks, verifyCertificate } from '../../src/certificate';
import { loadWorkflowBundle, WorkflowBundleError } from '../../src/temporal/workflow-bundle';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

describe('prebuilt workflow bundle (WORKFLOW_BUNDLE)', function () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-bundle-'));
  const bundleFile = path.join(dir, 'workflow-bundle.js');
  let stack: Stack | undefined;

  before(async () => {
    const { stdout } = await run(process.execPath, [path.join(root, 'bin/erasure.js'), 'bundle-workflows', '--out', bundleFile], { cwd: root, timeout: 170_000 });
    assert.match(stdout, /^wrote .*workflow-bundle\.js \(\d+ KiB, sources sha256 [0-9a-f]{12}…\)/);
  });
  after(async () => {
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a worker started from the bundle takes an erasure from request to certificate', async () => {
    stack = await startStack({ env: { WORKFLOW_BUNDLE: bundleFile } });
    const api = http(stack, keys.all);
    const res = await api('POST', '/erasures', { subject: { email: 'bundle.person@example.org' }, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    const id = res.json.requestId as string;
    await eventually(async () => (await api('GET', `/erasures/${id}`)).json?.status === 'awaiting_confirmation', 'awaiting confirmation');
    assert.equal((await api('POST', `/erasures/${id}/confirmations`, { system: 'legacy-billing', confirmedBy: 'ops' })).status, 202);
    await eventually(async () => (await api('GET', `/erasures/${id}`)).json?.status === 'completed', 'completed');
    const cert = await api('GET', `/erasures/${id}/certificate`);
    assert.equal(cert.status, 200, cert.text);
    const jwks = await http(stack)('GET', '/.well-known/jwks.json');
    const outcome = await verifyCertificate(cert.json, publicKeysFromJwks(jwks.json));
    assert.equal(outcome.valid, true, JSON.stringify(outcome));
  });

  it('refuses a bundle built from other workflow sources, one that is not a bundle, and a missing file', async () => {
    const code = fs.readFileSync(bundleFile, 'utf8');
    assert.doesNotThrow(() => loadWorkflowBundle(bundleFile));
    const stale = path.join(dir, 'stale.js');
    fs.writeFileSync(stale, code.replace(/sha256:[0-9a-f]{64}/, `sha256:${'0'.repeat(64)}`));
    assert.throws(() => loadWorkflowBundle(stale), (err: Error) => err instanceof WorkflowBundleError && /other workflow sources.*bundle-workflows --out/.test(err.message));
    // The worker itself loads WORKFLOW_BUNDLE: given the stale one, it does not start.
    await assert.rejects(startStack({ env: { WORKFLOW_BUNDLE: stale } }), (err: Error) => err instanceof WorkflowBundleError);
    const foreign = path.join(dir, 'foreign.js');
    fs.writeFileSync(foreign, code.slice(code.indexOf('\n') + 1));
    assert.throws(() => loadWorkflowBundle(foreign), /not a bundle written by "erasure bundle-workflows"/);
    assert.throws(() => loadWorkflowBundle(path.join(dir, 'missing.js')), /cannot be read \(ENOENT\)/);
  });
});
