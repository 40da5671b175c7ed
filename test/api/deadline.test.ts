/**
 * An extended deadline reaches the ledger: the API's ledger answers, /metrics and every overdue count use
 * it. Real stack; a second API on the same engine receives the request with a clock 31 days back, so its
 * GDPR deadline (30 days) has already passed when the test starts. /metrics reads the ledger gauges at most every
 * few seconds, so the test waits for the count to follow.
 */
import assert from 'node:assert/strict';
import { startApi, type RunningApi } from '../../src/api/main';
import { DAY_MS } from '../../src/domain';
import { createRequestRepository } from '../../src/ledger/requests';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const subject = { email: 'ada.lovelace@example.com' };

describe('deadline extension and the ledger (dev server, real worker)', function () {
  let stack: Stack;
  let backdated: RunningApi;

  before(async function () {
    stack = await startStack();
    backdated = await startApi(stack.engine, { port: 0, client: stack.api.client, relayIntervalMs: 500, now: () => new Date(Date.now() - 31 * DAY_MS) });
  });
  after(async () => {
    await backdated?.close();
    await stack?.stop();
  });

  const overdueMetric = async (): Promise<number> => {
    const text = (await http(stack)('GET', '/metrics')).text;
    const m = /^erasure_overdue (\d+)$/m.exec(text);
    assert.ok(m, 'erasure_overdue is exported');
    return Number(m[1]);
  };

  it('counts a request past its deadline as overdue, and no longer once POST /extend moved the ledger deadline', async () => {
    const before = await overdueMetric();
    const res = await fetch(`${backdated.url}/erasures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.all}` },
      body: JSON.stringify({ subject, jurisdiction: 'GDPR' }),
    });
    assert.equal(res.status, 202);
    const { requestId, deadline } = (await res.json()) as { requestId: string; deadline: string };
    assert.ok(Date.parse(deadline) < Date.now(), 'the deadline has passed');
    await eventually(async () => (await overdueMetric()) === before + 1, 'the overdue count rises');

    const api = http(stack, keys.all);
    await eventually(async () => (await api('GET', `/erasures/${requestId}`)).json?.overdue === true, 'the workflow marks it overdue');
    const extended = await http(stack, keys.operator)('POST', `/erasures/${requestId}/extend`, { days: 30, reason: 'complex request, Art. 12(3)' });
    assert.equal(extended.status, 202, extended.text);

    const want = new Date(Date.parse(deadline) + 30 * DAY_MS).toISOString();
    const requests = createRequestRepository(stack.engine.pool);
    await eventually(async () => (await requests.find(requestId))?.deadline === want, `the ledger deadline moves to ${want}`);
    await eventually(async () => (await overdueMetric()) === before, 'the overdue count drops');
    const status = (await api('GET', `/erasures/${requestId}`)).json;
    assert.equal(status.deadline, want);
    assert.equal(status.overdue, false);
  });
});
