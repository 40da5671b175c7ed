/**
 * A burst of operator actions on one request, through the real API on the Temporal dev server: every caller
 * gets the workflow's answer (202 or 409) or, past what can finish in time, an immediate 429 with
 * Retry-After; none waits for a timeout (503), and every answered action is recorded.
 */
import assert from 'node:assert/strict';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

describe('a burst of operator actions on one request (dev server, real worker)', function () {
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('answers each with the workflow\'s verdict or a quick 429, never a timeout', async () => {
    const api = http(stack, keys.all);
    const res = await api('POST', '/erasures', { subject: { email: 'burst.person@example.org' }, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    const id = res.json.requestId as string;
    await eventually(async () => (await api('GET', `/erasures/${id}`)).json?.status === 'awaiting_confirmation', 'awaiting');
    const n = 400;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => api('POST', `/erasures/${id}/extend`, { days: 1 + (i % 60), reason: 'burst' })));
    const count = (status: number) => answers.filter((a) => a.status === status).length;
    assert.equal(count(503), 0, 'no caller waited for the deadline');
    assert.equal(count(202), 1, 'exactly one extension is accepted');
    assert.equal(count(202) + count(409) + count(429), n, JSON.stringify(answers.filter((a) => ![202, 409, 429].includes(a.status)).slice(0, 3)));
    for (const a of answers.filter((x) => x.status === 429)) {
      assert.equal(a.headers.get('retry-after'), '1');
      assert.match(a.json.detail, /too many actions under way/);
    }
    // Every action the workflow answered is on record, kept or counted.
    const status = (await api('GET', `/erasures/${id}`)).json;
    const folded = Object.values((status.earlierActions ?? {}) as Record<string, { accepted: number; refused: number }>).reduce((s, c) => s + c.accepted + c.refused, 0);
    assert.equal(folded + status.actions.length, count(202) + count(409));
  });
});
