/**
 * The shredder loop against the real Temporal dev server and PostgreSQL: which keys it destroys, and that
 * no request can hold up the others (a workflow Temporal no longer knows, a page full of running ones).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startShredder } from '../../src/codec/shredder';
import { auditEventTypes } from '../../src/domain';
import { listEvents } from '../../src/ledger/events';
import { createRequestRepository } from '../../src/ledger/requests';
import { useLedgerDatabase, type LedgerDb } from '../harness/ledger';
import { capturingLogger } from '../harness/logs';
import { devServerEnv } from '../harness/temporal';
import { keyStoreOn } from './harness';

const DAY = 86_400_000;

describe('shredder (real Temporal dev server and PostgreSQL)', function () {
  this.timeout(120_000);
  const ledger = useLedgerDatabase();
  let env: TestWorkflowEnvironment;

  before(async () => {
    env = await devServerEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  /** A started request in the ledger with a live data key, then certified or cancelled. */
  async function request(db: LedgerDb, requestId: string, end: { certified: Date } | 'cancelled') {
    const requests = createRequestRepository(db.pool);
    const receivedAt = new Date(Date.now() - 40 * DAY);
    await requests.insertQueued({
      requestId,
      workflowId: `erasure-${requestId}`,
      subjectRef: 'subj_test',
      jurisdiction: 'GDPR',
      bodyHash: 'h',
      receivedAt,
      deadline: new Date(receivedAt.getTime() + 30 * DAY),
      pendingInput: { metadata: {}, data: '' },
      receivedDetail: {},
    });
    await requests.markStarted(requestId);
    if (end === 'cancelled') await requests.recordPhase(requestId, 'cancelled');
    else await requests.linkCertificate(db.pool, { requestId, certificateId: `cert-${requestId}`, completedAt: end.certified.toISOString() });
  }

  /** A workflow that stays running: nothing polls its task queue. */
  const runningWorkflow = (requestId: string) =>
    env.client.workflow.start('erasureWorkflow', { taskQueue: `nobody-${randomUUID()}`, workflowId: `erasure-${requestId}`, args: [] });

  async function setUp() {
    const db = await ledger.fresh();
    const { keyStore } = await keyStoreOn(db);
    const logs = capturingLogger();
    const shredder = startShredder({ pool: db.pool, client: env.client, keyStore, logger: logs.logger, intervalMs: 3_600_000 });
    const live = async (requestId: string) => (await keyStore.requestKey(requestId)).state === 'live';
    return { db, keyStore, shredder, logs, live };
  }

  it('shreds a certified request whose workflow Temporal no longer knows, as closed', async () => {
    const { db, keyStore, shredder, logs, live } = await setUp();
    const id = `gone-${randomUUID()}`;
    await request(db, id, { certified: new Date() });
    await keyStore.requestKey(id);
    try {
      assert.equal(await shredder.runOnce(), 1);
      assert.equal(await live(id), false);
      const events = await listEvents(db.pool, id);
      assert.deepEqual(events.filter((e) => e.type === auditEventTypes.dataKeyDestroyed).map((e) => e.detail.certificateId), [`cert-${id}`]);
      assert.ok(logs.lines.some((l) => String(l.msg).includes('no longer knows')));
      assert.ok(!logs.raw.some((l) => l.includes('shredding postponed')));
    } finally {
      await shredder.stop();
    }
  });

  it('never lets a page of requests it must postpone hide the rest', async () => {
    const { db, keyStore, shredder, live } = await setUp();
    const tag = randomUUID().slice(0, 8);
    // A hundred certified requests whose workflows still run, each certified before the one that closed.
    const waiting = Array.from({ length: 100 }, (_, i) => `a-${tag}-${String(i).padStart(3, '0')}`);
    const old = new Date(Date.now() - 10 * DAY);
    for (const id of waiting) {
      await request(db, id, { certified: old });
      await keyStore.requestKey(id);
      await runningWorkflow(id);
    }
    const closed = `z-${tag}`;
    await request(db, closed, { certified: new Date() });
    await keyStore.requestKey(closed);
    await (await runningWorkflow(closed)).terminate('closed for the test');
    try {
      await shredder.runOnce();
      await shredder.runOnce();
      assert.equal(await live(closed), false, 'the closed request is shredded by the second pass');
      for (const id of waiting.slice(0, 3)) assert.equal(await live(id), true, 'running workflows keep their keys');
    } finally {
      await shredder.stop();
    }
  });

  it("shreds a cancelled request's key once its workflow has closed, and not before", async () => {
    const { db, keyStore, shredder, live } = await setUp();
    const id = `cancelled-${randomUUID()}`;
    await request(db, id, 'cancelled');
    await keyStore.requestKey(id);
    const handle = await runningWorkflow(id);
    try {
      assert.equal(await shredder.runOnce(), 0);
      assert.equal(await live(id), true, 'still running: the key stays');
      await handle.terminate('closed for the test');
      assert.equal(await shredder.runOnce(), 1);
      assert.equal(await live(id), false);
      const destroyed = (await listEvents(db.pool, id)).filter((e) => e.type === auditEventTypes.dataKeyDestroyed);
      assert.equal(destroyed.length, 1);
      assert.equal(destroyed[0].detail.certificateId, undefined, 'a cancelled request has no certificate');
    } finally {
      await shredder.stop();
    }
  });
});
