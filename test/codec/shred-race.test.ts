/**
 * The race between the shredder and a worker that is still encoding an erasure workflow's commands, on the
 * real Temporal dev server, a real worker and real PostgreSQL.
 *
 * The shredder destroys a key only once Temporal reports the workflow closed, but a closed workflow is not
 * done with the worker: a query on it (the API's status read while the ledger still said "certifying", the
 * Web UI's stack trace) makes the worker replay the whole run from history, and a replay re-emits every
 * command the run ever sent, each encoded again, among them the `SystemTask` and the `CertificateRequest`
 * carrying the subject. When the shredder's pass lands between the replay's first decode (input still
 * readable) and the encoding of such a command, the codec used to throw `DataKeyDestroyedError` and the
 * worker logged "Failed to process Workflow Activation". Here that pass is made to land exactly there.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createDataConverter } from '../../src/codec/data-converter';
import type { KeyStore } from '../../src/codec/keys';
import { shredRequestKey } from '../../src/codec/shred';
import { startShredder } from '../../src/codec/shredder';
import { createRequestRepository } from '../../src/ledger/requests';
import { ErasureStatusKey, workflowIdFor, type ErasureInput, type ErasureResult } from '../../src/workflows/definitions';
import { useLedgerDatabase, type LedgerDb } from '../harness/ledger';
import { capturingLogger } from '../harness/logs';
import { devServerEnv } from '../harness/temporal';
import { keyStoreOn } from './harness';
import { findIdentifiers } from './pii-scan';
import { finishProbeSignal, type ProbeActivities } from './probe-workflow';

const DAY = 86_400_000;

/**
 * The process's real key store, with a hook run before the next `requestKey` call: the codec asks for the
 * request's key when it encodes, so the hook is "just before the worker encodes a command of this request".
 */
function hookable(inner: KeyStore): { keyStore: KeyStore; beforeNextEncode(hook: () => Promise<void>): void; fired(): boolean } {
  let pending: (() => Promise<void>) | undefined;
  let fired = false;
  return {
    keyStore: {
      defaultKey: inner.defaultKey,
      async requestKey(requestId) {
        const hook = pending;
        pending = undefined;
        if (hook) {
          fired = true;
          await hook();
        }
        return inner.requestKey(requestId);
      },
      lookup: (keyId) => inner.lookup(keyId),
      markDestroyed: (t) => inner.markDestroyed(t),
    },
    beforeNextEncode(hook) {
      pending = hook;
    },
    fired: () => fired,
  };
}

describe('shredder vs. the worker encoding a closed or running erasure workflow (dev server, real worker, PostgreSQL)', function () {
  this.timeout(120_000);
  const ledger = useLedgerDatabase();
  let env: TestWorkflowEnvironment;

  before(async () => {
    env = await devServerEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  const subjectOf = () => ({ email: `ada.lovelace.${randomBytes(3).toString('hex')}@example.org`, userId: `usr-${randomBytes(5).toString('hex')}` });

  function inputFor(requestId: string, subject: ErasureInput['subject']): ErasureInput {
    return {
      requestId,
      subject,
      subjectRef: 'sref-race',
      receivedAt: new Date().toISOString(),
      plan: {
        policy: { jurisdiction: 'GDPR', deadlineDays: 30, maxExtensionDays: 60, graceDays: 0, reminderEveryDays: 3, escalateBeforeDays: 5, maxVerifyRounds: 3, retryMarginDays: 7 },
        systems: [{ id: 'crm', kind: 'postgres', mode: 'automated', softDelete: false, dependsOn: [], spec: { table: 'customers' } }],
        consumers: [],
      },
    };
  }

  /** A started request in the ledger, as the intake leaves it. */
  async function queued(db: LedgerDb, requestId: string) {
    const requests = createRequestRepository(db.pool);
    const receivedAt = new Date();
    await requests.insertQueued({
      requestId,
      workflowId: workflowIdFor(requestId),
      subjectRef: 'sref-race',
      jurisdiction: 'GDPR',
      bodyHash: 'h',
      receivedAt,
      deadline: new Date(receivedAt.getTime() + 30 * DAY),
      pendingInput: { metadata: {}, data: '' },
      receivedDetail: {},
    });
    await requests.markStarted(requestId);
    return requests;
  }

  it('lets a query replay a closed run whose key the shredder destroys mid-replay, with no identifier encrypted again', async () => {
    const db = await ledger.fresh();
    const { keyStore } = await keyStoreOn(db);
    const hooks = hookable(keyStore);
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const subject = subjectOf();
    const requests = await queued(db, requestId);
    const logs = capturingLogger();
    const shredder = startShredder({ pool: db.pool, client: env.client, keyStore, logger: logs.logger, intervalMs: 3_600_000 });
    const taskQueue = `race-${randomBytes(4).toString('hex')}`;
    const activities: ProbeActivities = {
      async eraseSystem() {
        return { found: 1, erased: 1, evidenceHash: 'sha256:race' };
      },
      async issueCertificate(req) {
        const certificateId = `cert-${req.requestId}`;
        await requests.linkCertificate(db.pool, { requestId: req.requestId, certificateId, completedAt: new Date().toISOString() });
        // The certificate is stored, the workflow still runs: the shredder must leave the key alone.
        assert.equal(await shredder.runOnce(), 0, 'no key is destroyed while the workflow runs');
        return { certificateId };
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowsPath: require.resolve('./probe-workflow'),
      activities,
      dataConverter: createDataConverter(hooks.keyStore),
      // No sticky cache: every task of the closed run, the query's too, replays from history, as after an eviction.
      maxCachedWorkflows: 0,
    });
    const client = new Client({ connection: env.connection, namespace: 'default', dataConverter: createDataConverter(keyStore) });
    try {
      await worker.runUntil(async () => {
        const handle = await client.workflow.start('piiProbeWorkflow', {
          taskQueue,
          workflowId: workflowIdFor(requestId),
          args: [inputFor(requestId, subject)],
          typedSearchAttributes: [{ key: ErasureStatusKey, value: 'accepted' }],
        });
        await handle.signal(finishProbeSignal, { confirmedBy: 'operator-1' });
        const result = (await handle.result()) as ErasureResult;
        assert.equal(result.certificateId, `cert-${requestId}`);
        assert.equal((await keyStore.requestKey(requestId)).state, 'live', 'closed, but the shredder has not passed yet');

        // The shredder's pass lands after the replay decoded the input, before it encodes the first command.
        hooks.beforeNextEncode(async () => {
          assert.equal(await shredder.runOnce(), 1, 'the workflow is closed: its key goes');
        });
        const meta = await handle.query<{ definition?: { type?: string } }>('__temporal_workflow_metadata');
        assert.ok(hooks.fired(), 'the shredder ran in the middle of the replay');
        assert.equal(meta.definition?.type, 'piiProbeWorkflow', 'the query is answered: the replay was not failed by the codec');
      });
    } finally {
      await shredder.stop();
    }
    assert.equal((await keyStore.requestKey(requestId)).state, 'destroyed');
    const { rows } = await db.pool.query('SELECT 1 FROM data_keys WHERE request_id = $1', [requestId]);
    assert.equal(rows.length, 0, 'no key was created again for the shredded request');
  });

  it("never wedges a running workflow whose key is gone: its subject-carrying command goes out as the shredded stand-in", async () => {
    const db = await ledger.fresh();
    const { keyStore } = await keyStoreOn(db);
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const subject = subjectOf();
    const taskQueue = `race-${randomBytes(4).toString('hex')}`;
    const received: unknown[] = [];
    let erased = false;
    const activities: ProbeActivities = {
      async eraseSystem() {
        erased = true;
        return { found: 1, erased: 1, evidenceHash: 'sha256:race' };
      },
      async issueCertificate(req) {
        received.push(req);
        return { certificateId: `cert-${requestId}` };
      },
    };
    const dataConverter = createDataConverter(keyStore);
    const worker = await Worker.create({ connection: env.nativeConnection, namespace: 'default', taskQueue, workflowsPath: require.resolve('./probe-workflow'), activities, dataConverter });
    const client = new Client({ connection: env.connection, namespace: 'default', dataConverter });
    const result = await worker.runUntil(async () => {
      const handle = await client.workflow.start('piiProbeWorkflow', {
        taskQueue,
        workflowId: workflowIdFor(requestId),
        args: [inputFor(requestId, subject)],
        typedSearchAttributes: [{ key: ErasureStatusKey, value: 'accepted' }],
      });
      for (let i = 0; !erased; i++) {
        if (i > 200) throw new Error('the probe workflow never erased');
        await new Promise((r) => setTimeout(r, 50));
      }
      // The key goes while the run is open (a shred decided wrongly, or by hand): the next command carries the subject.
      await shredRequestKey(db.pool, requestId, { keyStore });
      await handle.signal(finishProbeSignal, { confirmedBy: 'operator-1' });
      return (await handle.result()) as ErasureResult;
    });
    assert.equal(result.certificateId, `cert-${requestId}`, 'the workflow task was not failed over and over: the run completed');
    assert.equal(received.length, 1);
    assert.equal((received[0] as { shredded?: unknown }).shredded, true, 'the activity got the stand-in, not the request');
    assert.deepEqual(findIdentifiers(JSON.stringify(received), subject), [], 'no identifier reached the activity');
  });
});
