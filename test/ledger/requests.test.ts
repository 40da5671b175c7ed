/** The ledger's requests repository and the activities' audit log on a real PostgreSQL. */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { createAttestor } from '../../src/attestation';
import { DAY_MS } from '../../src/domain';
import { createActivityAudit } from '../../src/ledger/audit';
import { inTransaction } from '../../src/ledger/db';
import { listEvents } from '../../src/ledger/events';
import { createRequestRepository, type NewRequest } from '../../src/ledger/requests';
import { useLedgerDatabase } from '../harness/ledger';
import { capturingLogger } from '../harness/logs';

/** Operator actions are checked with a key of this test's own. */
const attestor = createAttestor(createSecretKey(randomBytes(32)));

const day = (n: number, from = Date.now()) => new Date(from + n * DAY_MS);

function newRequest(requestId: string, over: Partial<NewRequest> = {}): NewRequest {
  const receivedAt = over.receivedAt ?? new Date();
  return {
    requestId,
    workflowId: `erasure-${requestId}`,
    subjectRef: 'subj_0123',
    jurisdiction: 'GDPR',
    bodyHash: 'hash-a',
    receivedAt,
    deadline: day(30, receivedAt.getTime()),
    pendingInput: { metadata: { encoding: 'YmluYXJ5L2VuY3J5cHRlZA' }, data: 'AAAA' },
    receivedDetail: { subjectRef: 'subj_0123', jurisdiction: 'GDPR', source: null },
    ...over,
  };
}

describe('ledger requests (real PostgreSQL)', () => {
  const ledger = useLedgerDatabase();

  it('records a new request with its received event once; the same id answers existing or conflict by body', async () => {
    const { pool } = await ledger.fresh();
    const requests = createRequestRepository(pool);
    const created = await requests.insertQueued(newRequest('req-1'));
    assert.equal(created.kind, 'created');
    assert.equal(created.record.status, 'queued');
    assert.equal((await requests.insertQueued(newRequest('req-1'))).kind, 'existing');
    const conflict = await requests.insertQueued(newRequest('req-1', { bodyHash: 'hash-b' }));
    assert.equal(conflict.kind, 'conflict');
    assert.deepEqual(conflict.record, created.record);
    assert.deepEqual((await listEvents(pool, 'req-1')).map((e) => e.type), ['received']);
    assert.equal(await requests.find('req-unknown'), undefined);
  });

  it('lets one relay claim a queued request at a time, takes it back on release, and forgets it once started', async () => {
    const { pool } = await ledger.fresh();
    const requests = createRequestRepository(pool);
    await requests.insertQueued(newRequest('req-q'));
    const first = await requests.claimQueued({ batch: 10, leaseSeconds: 60 });
    assert.deepEqual(first.map((c) => c.requestId), ['req-q']);
    assert.deepEqual(first[0].pendingInput, newRequest('req-q').pendingInput);
    assert.equal((await requests.claimQueued({ batch: 10, leaseSeconds: 60 })).length, 0, 'a leased request is not claimed twice');
    await requests.releaseClaims(['req-q'], 0);
    assert.equal((await requests.claimQueued({ batch: 10, leaseSeconds: 60 })).length, 1, 'released, it can be claimed again');
    const marked = await requests.markStarted('req-q');
    await requests.releaseClaims(['req-q'], 0);
    assert.equal((await requests.claimQueued({ batch: 10, leaseSeconds: 60 })).length, 0);
    const started = await requests.find('req-q');
    assert.equal(started?.status, 'accepted');
    assert.ok(started?.workflowStartedAt);
    assert.deepEqual(marked, started, 'markStarted answers with the row as the ledger holds it');
    assert.equal(await requests.markStarted('req-unknown'), undefined);
  });

  it('moves the status on phase events and stamps the completion once', async () => {
    const { pool } = await ledger.fresh();
    const requests = createRequestRepository(pool);
    const audit = createActivityAudit({ pool, requests, attestor });
    await requests.insertQueued(newRequest('req-p'));
    await audit.recordEvent({ requestId: 'req-p', type: 'phase.erasing' });
    assert.equal((await requests.find('req-p'))?.status, 'erasing');
    assert.deepEqual(await requests.countOpen(), { byStatus: { erasing: 1 }, overdue: 0 });
    await audit.recordEvent({ requestId: 'req-p', type: 'phase.completed' });
    const done = await requests.find('req-p');
    assert.equal(done?.status, 'completed');
    assert.ok(done?.completedAt);
    assert.deepEqual(await requests.countOpen(), { byStatus: {}, overdue: 0 });
  });

  it('moves the ledger deadline on deadline.extended, idempotently, so the overdue count follows the extension', async () => {
    const { pool } = await ledger.fresh();
    const requests = createRequestRepository(pool);
    const { logger } = capturingLogger();
    const audit = createActivityAudit({ pool, requests, logger, attestor });
    const receivedAt = day(-31);
    await requests.insertQueued(newRequest('req-late', { receivedAt }));
    await requests.markStarted('req-late');
    const from = (await requests.find('req-late'))!.deadline;
    assert.equal((await requests.countOpen()).overdue, 1, 'past its deadline');

    const extended = day(60, receivedAt.getTime()).toISOString();
    const event = { requestId: 'req-late', type: 'deadline.extended', detail: { deadline: extended, from, days: 30 } };
    await audit.recordEvent(event);
    assert.equal((await requests.find('req-late'))?.deadline, extended);
    assert.equal((await requests.countOpen()).overdue, 0, 'no longer overdue');

    await audit.recordEvent(event); // a retried activity
    assert.equal((await requests.find('req-late'))?.deadline, extended);
    assert.equal(await requests.extendDeadline('req-late', new Date(extended)), false, 'the same deadline again changes nothing');
    assert.deepEqual((await listEvents(pool, 'req-late')).map((e) => e.type), ['received', 'deadline.extended', 'deadline.extended']);
  });

  it('keeps the deadline and logs a warning when deadline.extended carries no valid date', async () => {
    const { pool } = await ledger.fresh();
    const requests = createRequestRepository(pool);
    const { logger, lines } = capturingLogger();
    const audit = createActivityAudit({ pool, requests, logger, attestor });
    await requests.insertQueued(newRequest('req-bad'));
    const before = (await requests.find('req-bad'))!.deadline;
    for (const detail of [{ deadline: 'next tuesday' }, { deadline: 42 }, {}]) {
      await audit.recordEvent({ requestId: 'req-bad', type: 'deadline.extended', detail });
    }
    assert.equal((await requests.find('req-bad'))?.deadline, before);
    const warnings = lines.filter((l) => l.level === 40 && /deadline\.extended/.test(String(l.msg)));
    assert.equal(warnings.length, 3);
    assert.ok(warnings.every((w) => w.requestId === 'req-bad' && /detail\.deadline/.test(String(w.problem))));
  });

  it('links a certificate only when the transaction it joins commits', async () => {
    const { pool } = await ledger.fresh();
    const requests = createRequestRepository(pool);
    await requests.insertQueued(newRequest('req-c'));
    const link = { requestId: 'req-c', certificateId: 'cert-1', completedAt: '2026-03-12T17:30:00.000Z' };
    await assert.rejects(
      inTransaction(pool, async (c) => {
        await requests.linkCertificate(c, link);
        throw new Error('signing failed');
      }),
      /signing failed/,
    );
    assert.equal((await requests.find('req-c'))?.certificateId, null);
    await inTransaction(pool, (c) => requests.linkCertificate(c, link));
    const linked = await requests.find('req-c');
    assert.equal(linked?.certificateId, 'cert-1');
    assert.equal(linked?.completedAt, link.completedAt);
    assert.equal(await requests.danglingCertificateLink(), 'cert-1', 'no such certificate in the ledger');
  });
});
