/**
 * Operators' real tools against the real stack: `temporal workflow signal`, `tctl workflow signal`,
 * `temporal workflow list --query …` and `temporal workflow show` on the go-installed dev server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { toolPaths } from '../../src/dev/servers';
import { findIdentifiers } from '../codec/pii-scan';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const run = promisify(execFile);
const subject = { email: 'cli.person@example.org', userId: 'cli-user-5521', phone: '+15550104477' };

describe('operator CLIs against the dev server', function () {
  let stack: Stack;
  let api: ReturnType<typeof http>;

  before(async () => {
    stack = await startStack();
    api = http(stack, keys.all);
  });
  after(async () => {
    await stack?.stop();
  });

  async function waitingRequest(): Promise<string> {
    const res = await api('POST', '/erasures', { subject, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    await eventually(async () => (await api('GET', `/erasures/${res.json.requestId}`)).json?.status === 'awaiting_confirmation', 'awaiting confirmation');
    return res.json.requestId as string;
  }
  const temporal = (...args: string[]) => run(toolPaths().temporal, [...args, '--address', stack.temporal.address], { timeout: 60_000 });
  const tctl = (...args: string[]) => run(toolPaths().tctl, ['--address', stack.temporal.address, ...args], { timeout: 60_000 });
  const completed = (id: string) => eventually(async () => (await api('GET', `/erasures/${id}`)).json?.status === 'completed', 'completed');

  it('finds the waiting request with `temporal workflow list --query ErasureStatus="awaiting_confirmation"`', async () => {
    const id = await waitingRequest();
    const { stdout } = await eventually(async () => {
      const out = await temporal('workflow', 'list', '--query', 'ErasureStatus="awaiting_confirmation"', '--output', 'json');
      return out.stdout.includes(`erasure-${id}`) && out;
    }, 'listed by search attribute');
    assert.ok(stdout.includes(`erasure-${id}`));
  });

  it('completes a manual system confirmed with the real `temporal workflow signal`', async () => {
    const id = await waitingRequest();
    await temporal(
      'workflow', 'signal', '--workflow-id', `erasure-${id}`, '--name', 'confirmDeletion',
      '--input', JSON.stringify({ system: 'legacy-billing', confirmedBy: 'billing-team', reference: 'JIRA-77' }),
    );
    await completed(id);
    const cert = await api('GET', `/erasures/${id}/certificate`);
    assert.equal(cert.status, 200);
    const receipt = JSON.stringify(cert.json);
    assert.match(receipt, /billing-team/);
    assert.match(receipt, /JIRA-77/);
  });

  it('completes a manual system confirmed with the real `tctl workflow signal`', async () => {
    const id = await waitingRequest();
    await tctl('workflow', 'signal', '-w', `erasure-${id}`, '-n', 'confirmDeletion', '-i', JSON.stringify({ system: 'legacy-billing', confirmedBy: 'tctl-operator' }));
    await completed(id);
    const status = await api('GET', `/erasures/${id}`);
    assert.equal(status.json.status, 'completed');
  });

  it('records a malformed CLI signal as rejected and keeps the workflow running', async () => {
    const id = await waitingRequest();
    await temporal('workflow', 'signal', '--workflow-id', `erasure-${id}`, '--name', 'confirmDeletion', '--input', '{"system": 42}');
    const s = await eventually(async () => {
      const r = await api('GET', `/erasures/${id}`);
      return r.json?.actions?.length === 1 && r.json;
    }, 'rejection recorded');
    assert.equal(s.actions[0].accepted, false);
    assert.equal(s.status, 'awaiting_confirmation');
  });

  it('leaves no identifier in `temporal workflow show --output json` after a full run', async () => {
    const id = await waitingRequest();
    await temporal('workflow', 'signal', '--workflow-id', `erasure-${id}`, '--name', 'confirmDeletion', '--input', JSON.stringify({ system: 'legacy-billing', confirmedBy: 'ops' }));
    await completed(id);
    const { stdout } = await temporal('workflow', 'show', '--workflow-id', `erasure-${id}`, '--output', 'json');
    assert.ok(stdout.length > 1000, 'history printed');
    assert.deepEqual(findIdentifiers(stdout, subject), []);
  });
});
