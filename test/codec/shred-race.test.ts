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
 * A workflow that is still running when its key goes must not be wedged by the codec either.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { defaultPayloadConverter, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { EncryptionCodec, isShreddedPayload, METADATA_KEY_ID } from '../../src/codec/codec';
import { createDataConverter, failureConverterPath } from '../../src/codec/data-converter';
import { DataKeyDestroyedError } from '../../src/codec/errors';
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
 * The engine's data converter with a hook run just before the worker next encodes a `CertificateRequest`
 * (a JSON object with a `subject` and `receipts`): the moment a replay re-emits the certificate command.
 */
function hookedConverter(keyStore: KeyStore): {
  dataConverter: DataConverter;
  beforeCertificateCommand(hook: () => Promise<void>): void;
  fired(): boolean;
  /** What the codec made of the certificate command encoded after the hook. */
  encodedAfter(): Payload | undefined;
} {
  const codec = new EncryptionCodec(keyStore);
  let pending: (() => Promise<void>) | undefined;
  let fired = false;
  let encodedAfter: Payload | undefined;
  const isCertificateRequest = (p: Payload) => {
    try {
      const v = JSON.parse(Buffer.from(p.data ?? []).toString()) as Record<string, unknown>;
      return v !== null && typeof v === 'object' && 'subject' in v && 'receipts' in v;
    } catch {
      return false;
    }
  };
  const hooked: PayloadCodec = {
    async encode(payloads, context) {
      const hook = pending;
      const at = payloads.findIndex(isCertificateRequest);
      if (!hook || at < 0) return codec.encode(payloads, context);
      pending = undefined;
      fired = true;
      await hook();
      const out = await codec.encode(payloads, context);
      encodedAfter = out[at];
      return out;
    },
    decode: (payloads) => codec.decode(payloads),
  };
  return {
    dataConverter: { payloadCodecs: [hooked], failureConverterPath },
    beforeCertificateCommand(hook) {
      pending = hook;
    },
    fired: () => fired,
    encodedAfter: () => encodedAfter,
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
    const hooks = hookedConverter(keyStore);
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
      dataConverter: hooks.dataConverter,
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

        // The shredder's pass lands in the middle of the replay: the input, the activity's result and the
        // signal were decoded with the key still live; the certificate command is about to be encoded again.
        hooks.beforeCertificateCommand(async () => {
          assert.equal(await shredder.runOnce(), 1, 'the workflow is closed: its key goes');
        });
        const meta = await handle.query<{ definition?: { type?: string } }>('__temporal_workflow_metadata');
        assert.ok(hooks.fired(), 'the shredder ran in the middle of the replay');
        assert.equal(meta.definition?.type, 'piiProbeWorkflow', 'the query is answered: the replay was not failed by the codec');
      });
      const command = hooks.encodedAfter();
      assert.ok(command, 'the certificate command was encoded again after the shred');
      assert.equal(Buffer.from(command.metadata?.[METADATA_KEY_ID] ?? []).toString(), keyStore.defaultKey.id, 'under the default key');
      const [decoded] = await new EncryptionCodec(keyStore).decode([command]);
      assert.ok(isShreddedPayload(decoded), 'as the shredded stand-in');
      assert.deepEqual(findIdentifiers(Buffer.from(decoded.data ?? []).toString(), subject), [], 'carrying no identifier');
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
      // Bounded: before the fix the run's workflow task failed on every attempt and the result never came.
      let timer: NodeJS.Timeout | undefined;
      const wedged = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the workflow task is wedged: no result 20 s after the signal')), 20_000);
      });
      try {
        return (await Promise.race([handle.result(), wedged])) as ErasureResult;
      } finally {
        clearTimeout(timer);
      }
    });
    assert.equal(result.certificateId, `cert-${requestId}`, 'the workflow task was not failed over and over: the run completed');
    assert.equal(received.length, 1);
    assert.equal((received[0] as { shredded?: unknown }).shredded, true, 'the activity got the stand-in, not the request');
    assert.deepEqual(findIdentifiers(JSON.stringify(received), subject), [], 'no identifier reached the activity');
  });

  it('never lets a key load that read the live row before a shred bring the key back into the cache', async () => {
    const db = await ledger.fresh();
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const { keyStore: other, masterKey } = await keyStoreOn(db);
    const created = await other.requestKey(requestId);
    assert.equal(created.state, 'live');
    const keyId = created.state === 'live' ? created.dataKey.id : '';
    // This process's loads of a key (the queries selecting data_keys with destroyed_data_keys) are held, once
    // they have read, until released: a load that read the live row is still on its way when the shred commits.
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    let reads = 0;
    let bothRead = () => {};
    const haveRead = new Promise<void>((r) => (bothRead = r));
    const slowReads = new Proxy(db.pool, {
      get(target, prop) {
        const v: unknown = Reflect.get(target, prop);
        if (prop !== 'query') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return async (...args: unknown[]) => {
          const res: unknown = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (String(args[0]).includes('UNION ALL')) {
            if (++reads === 2) bothRead();
            await held;
          }
          return res;
        };
      },
    });
    const { keyStore } = await keyStoreOn({ ...db, pool: slowReads }, { masterKey });
    const byId = keyStore.lookup(keyId);
    const byRequest = keyStore.requestKey(requestId);
    await haveRead;
    await shredRequestKey(db.pool, requestId, { keyStore });
    release();
    assert.equal((await byId).state, 'destroyed', 'the load that raced the shred answers with the tombstone');
    assert.equal((await byRequest).state, 'destroyed');
    assert.equal((await keyStore.lookup(keyId)).state, 'destroyed', 'and the cache holds the tombstone, not the key');
    assert.equal((await keyStore.requestKey(requestId)).state, 'destroyed');
  });

  it('with a grace delay, keeps a closed request\'s key until that long after its workflow closed', async () => {
    const db = await ledger.fresh();
    const { keyStore } = await keyStoreOn(db);
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const requests = await queued(db, requestId);
    await requests.linkCertificate(db.pool, { requestId, certificateId: `cert-${requestId}`, completedAt: new Date().toISOString() });
    await keyStore.requestKey(requestId);
    // Nothing polls this queue: the workflow runs until it is terminated.
    const handle = await env.client.workflow.start('piiProbeWorkflow', { taskQueue: `nobody-${randomBytes(4).toString('hex')}`, workflowId: workflowIdFor(requestId), args: [] });
    const logs = capturingLogger();
    const patient = startShredder({ pool: db.pool, client: env.client, keyStore, logger: logs.logger, intervalMs: 3_600_000, closedGraceMs: 60_000 });
    const eager = startShredder({ pool: db.pool, client: env.client, keyStore, logger: logs.logger, intervalMs: 3_600_000 });
    try {
      assert.equal(await patient.runOnce(), 0, 'certified but running: the key stays');
      await handle.terminate('closed for the test');
      assert.equal(await patient.runOnce(), 0, 'closed less than a minute ago: the key stays');
      assert.equal((await keyStore.requestKey(requestId)).state, 'live');
      assert.equal(await eager.runOnce(), 1, 'without a grace delay it goes at the first pass that sees it closed');
      assert.equal((await keyStore.requestKey(requestId)).state, 'destroyed');
    } finally {
      await patient.stop();
      await eager.stop();
    }
  });

  it("encodes a shredded request's identifiers as the stand-in for the SDK, refuses them to a direct caller, and keeps the rest readable", async () => {
    const db = await ledger.fresh();
    const { keyStore } = await keyStoreOn(db);
    const codec = new EncryptionCodec(keyStore);
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const subject = subjectOf();
    const context = { type: 'workflow' as const, namespace: 'default', workflowId: workflowIdFor(requestId) };
    await keyStore.requestKey(requestId);
    await shredRequestKey(db.pool, requestId, { keyStore });
    const task = defaultPayloadConverter.toPayload({ requestId, subject, subjectRef: 'sref-race', system: { id: 'crm' } });
    // Derived identifiers alone (no subject) are identifiers too.
    const derivedOnly = defaultPayloadConverter.toPayload({ requestId, derived: { userId: [subject.userId] } });
    const result = defaultPayloadConverter.toPayload({ status: 'completed', certificateId: `cert-${requestId}` });
    const encoded = await codec.encode([task, derivedOnly, result], context);
    for (const p of encoded) assert.equal(Buffer.from(p.metadata?.[METADATA_KEY_ID] ?? []).toString(), keyStore.defaultKey.id);
    const [t, d, r] = await codec.decode(encoded);
    assert.ok(isShreddedPayload(t) && isShreddedPayload(d), 'identifier-carrying payloads become the stand-in');
    assert.deepEqual(findIdentifiers(JSON.stringify([t, d].map((p) => Buffer.from(p.data ?? []).toString())), subject), []);
    assert.deepEqual(defaultPayloadConverter.fromPayload(r), { status: 'completed', certificateId: `cert-${requestId}` }, 'the rest stays readable');
    await assert.rejects(codec.encode([task]), DataKeyDestroyedError, 'without an SDK context (the intake, the codec server) it is refused');
    await assert.rejects(codec.encode([derivedOnly]), DataKeyDestroyedError);
  });
});
