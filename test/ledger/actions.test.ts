/** The full operator-action list read back from the audit trail (real PostgreSQL). */
import assert from 'node:assert/strict';
import { auditEventTypes } from '../../src/domain';
import { listOperatorActions } from '../../src/ledger/actions';
import { appendEvent } from '../../src/ledger/events';
import { useLedgerDatabase } from '../harness/ledger';

const entry = (n: number, accepted = false) => ({ n, at: new Date(n * 1000).toISOString(), signal: 'retrySystem', accepted, reason: accepted ? undefined : 'no' });

describe('listOperatorActions (real PostgreSQL)', () => {
  const ledger = useLedgerDatabase();

  it('flattens the batches in order, once each, even when a batch was written twice', async () => {
    const { pool } = await ledger.fresh();
    const batch = (ns: number[], dropped?: number) => ({ requestId: 'req-a', type: auditEventTypes.operatorActions, detail: { actions: ns.map((n) => entry(n)), ...(dropped ? { dropped } : {}) } });
    await appendEvent(pool, batch([1, 2, 3]));
    await appendEvent(pool, { requestId: 'req-a', type: 'phase.erasing' });
    await appendEvent(pool, batch([4, 5], 2));
    await appendEvent(pool, batch([4, 5], 2)); // a retried local activity
    await appendEvent(pool, batch([6]));
    await appendEvent(pool, { requestId: 'req-b', type: auditEventTypes.operatorActions, detail: { actions: [entry(1, true)] } });
    const log = await listOperatorActions(pool, 'req-a');
    assert.deepEqual(log.actions.map((a) => a.n), [1, 2, 3, 4, 5, 6]);
    assert.equal(log.dropped, 2);
    assert.equal(log.actions[0].reason, 'no');
  });

  it('skips entries it cannot read instead of failing', async () => {
    const { pool } = await ledger.fresh();
    await appendEvent(pool, { requestId: 'req-c', type: auditEventTypes.operatorActions, detail: { actions: [{ n: 'one' }, entry(2)] } });
    await appendEvent(pool, { requestId: 'req-c', type: auditEventTypes.operatorActions, detail: { nothing: true } });
    assert.deepEqual((await listOperatorActions(pool, 'req-c')).actions.map((a) => a.n), [2]);
  });
});
