import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createDataConverter } from '../../src/codec/data-converter';
import type { KeyStore } from '../../src/codec/keys';
import { createCodecServer } from '../../src/codec/server';
import { shredRequestKey } from '../../src/codec/shred';
import { toolPaths } from '../../src/dev/servers';
import type { Pool } from '../../src/ledger/db';
import { ErasureStatusKey, workflowIdFor, type ErasureInput, type ErasureResult } from '../../src/workflows/definitions';
import { useLedgerDatabase } from '../harness/ledger';
import { serve, type Served } from '../harness/serve';
import { devServerEnv } from '../harness/temporal';
import { describeHits, findIdentifiers, payloadsOf, unencryptedPayloads } from './pii-scan';
import { finishProbeSignal, type ProbeActivities } from './probe-workflow';
import { keyStoreOn } from './harness';

const run = promisify(execFile);
const codecToken = `codec-${randomBytes(12).toString('hex')}`;

/** The real `temporal` CLI's view of a workflow's history, optionally through the codec server. */
async function workflowShow(address: string, workflowId: string, codecEndpoint?: string): Promise<string> {
  const args = ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', address, '--namespace', 'default'];
  if (codecEndpoint) args.push('--codec-endpoint', codecEndpoint, '--codec-auth', `Bearer ${codecToken}`);
  const { stdout } = await run(toolPaths().temporal, args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

describe('Temporal history holds no plaintext identifiers (dev server, real worker, real temporal CLI)', function () {
  this.timeout(180_000);
  const ledger = useLedgerDatabase();
  let env: TestWorkflowEnvironment;
  let keyStore: KeyStore;
  let pool: Pool;
  let codecServer: Served;
  let codecEndpoint: string;

  before(async () => {
    env = await devServerEnv();
    ({ keyStore, db: { pool } } = await keyStoreOn(ledger));
    codecServer = await serve(createCodecServer({ keyStore, auth: { bearerToken: codecToken }, corsOrigins: ['http://localhost:8233'], audit: async () => undefined }));
    codecEndpoint = codecServer.url;
  });
  after(async () => {
    await codecServer?.close();
    await env?.teardown();
  });

  it('shows only ciphertext before and after shredding; the codec server decodes an open request, then reports it shredded', async () => {
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const subject = { email: `rosalind.franklin.${randomBytes(3).toString('hex')}@example.org`, userId: `usr-${randomBytes(5).toString('hex')}`, phone: '+4420794600123' };
    const ids = { email: subject.email, userId: subject.userId, phone: subject.phone };
    const workflowId = workflowIdFor(requestId);
    const taskQueue = `codec-${randomBytes(4).toString('hex')}`;
    const dataConverter = createDataConverter(keyStore);
    let erasureAttempts = 0;
    const activities: ProbeActivities = {
      async eraseSystem(task) {
        // A careless connector: its first error quotes the identifier it was looking for.
        if (++erasureAttempts === 1) throw new Error(`no connection to ${task.system.id} while erasing ${task.subject.email}`);
        return { found: 2, erased: 2, evidenceHash: 'sha256:probe' };
      },
      async issueCertificate(req) {
        const certificateId = `cert-${req.requestId}`;
        await shredRequestKey(pool, req.requestId, { keyStore, certificateId });
        return { certificateId };
      },
    };
    const input: ErasureInput = {
      requestId,
      subject,
      subjectRef: 'sref-probe',
      receivedAt: new Date().toISOString(),
      plan: {
        policy: { jurisdiction: 'GDPR', deadlineDays: 30, maxExtensionDays: 60, graceDays: 0, reminderEveryDays: 3, escalateBeforeDays: 5, maxVerifyRounds: 3, retryMarginDays: 7 },
        systems: [{ id: 'crm', kind: 'postgres', mode: 'automated', softDelete: false, dependsOn: [], spec: { table: 'customers' } }],
        consumers: [],
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowsPath: require.resolve('./probe-workflow'),
      activities,
      dataConverter,
    });
    const client = new Client({ connection: env.connection, namespace: 'default', dataConverter });

    const result = await worker.runUntil(async () => {
      const handle = await client.workflow.start('piiProbeWorkflow', {
        taskQueue,
        workflowId,
        args: [input],
        memo: { requestId },
        typedSearchAttributes: [{ key: ErasureStatusKey, value: 'accepted' }],
      });
      // Wait until the erasure activity succeeded after its failing first attempt.
      for (let i = 0; erasureAttempts < 2 || !(await workflowShow(env.address, workflowId)).includes('ACTIVITY_TASK_COMPLETED'); i++) {
        if (i > 200) throw new Error('the probe workflow never completed its erasure activity');
        await new Promise((r) => setTimeout(r, 100));
      }

      const open = await workflowShow(env.address, workflowId);
      assert.deepEqual(findIdentifiers(open, ids), [], `identifiers in the open history: ${describeHits(findIdentifiers(open, ids))}`);
      assert.deepEqual(unencryptedPayloads(open), []);
      const decodedOpen = await workflowShow(env.address, workflowId, codecEndpoint);
      const seen = new Set(findIdentifiers(decodedOpen, ids).map((h) => h.name));
      assert.deepEqual([...seen].sort(), ['email', 'phone', 'userId'], 'the codec server decodes an open request for an authorised operator');

      await handle.signal(finishProbeSignal, { confirmedBy: 'operator-1' });
      return handle.result();
    });
    assert.deepEqual(result as ErasureResult, { ...(result as ErasureResult), status: 'completed', certificateId: `cert-${requestId}` });

    const closed = await workflowShow(env.address, workflowId);
    assert.deepEqual(findIdentifiers(closed, ids), [], `identifiers in the closed history: ${describeHits(findIdentifiers(closed, ids))}`);
    assert.deepEqual(unencryptedPayloads(closed), [], 'every payload outside search attributes is encrypted');
    const encrypted = payloadsOf(closed).filter((p) => p.encoding === 'binary/encrypted');
    assert.ok(encrypted.length >= 8, `input, activity arguments, failure, results, signal, memo: found ${encrypted.length} encrypted payloads`);

    const decodedClosed = await workflowShow(env.address, workflowId, codecEndpoint);
    assert.deepEqual(findIdentifiers(decodedClosed, ids), [], `identifiers decoded after shredding: ${describeHits(findIdentifiers(decodedClosed, ids))}`);
    const values = payloadsOf(decodedClosed).map((p) => ({ path: p.path, text: p.data.toString() }));
    const shredded = values.filter((v) => v.text.includes('"shredded":true'));
    const at = (what: RegExp) => values.filter((v) => what.test(v.path));
    // Everything the request owned before its certificate: input, activity arguments, the failure quoting an identifier.
    for (const where of [/workflowExecutionStartedEventAttributes\.input/, /activityTaskScheduledEventAttributes\.input/, /lastFailure\.encodedAttributes/]) {
      assert.ok(at(where).length > 0 && at(where).every((v) => shredded.includes(v)), `${where} must read as shredded`);
    }
    assert.match(shredded[0].text, /data key destroyed after the certificate was issued/);
    // What the request produced after shredding (the certificate's id, the workflow's result) stays readable.
    const completed = at(/workflowExecutionCompletedEventAttributes\.result/);
    assert.equal(completed.length, 1);
    assert.ok(completed[0].text.includes(`cert-${requestId}`), 'the result, encrypted after shredding under the default key, stays readable');
  });

  it('keeps failure messages out of plain history, yet clients still read them through the data converter', async () => {
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const taskQueue = `codec-${randomBytes(4).toString('hex')}`;
    const dataConverter = createDataConverter(keyStore);
    const worker = await Worker.create({ connection: env.nativeConnection, namespace: 'default', taskQueue, workflowsPath: require.resolve('./probe-workflow'), dataConverter });
    const client = new Client({ connection: env.connection, namespace: 'default', dataConverter });
    const workflowId = workflowIdFor(requestId);
    const err = await worker.runUntil(client.workflow.execute('failingProbeWorkflow', { taskQueue, workflowId, args: [{ requestId }] }).then(() => undefined, (e: unknown) => e));
    assert.ok(err instanceof WorkflowFailedError);
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.message, `request ${requestId} cannot be erased: plan refused`);
    assert.equal(err.cause.type, 'PlanRefused');
    const history = await workflowShow(env.address, workflowId);
    assert.deepEqual(findIdentifiers(history, { message: 'cannot be erased: plan refused' }), [], 'the message travels only encrypted');
    assert.deepEqual(unencryptedPayloads(history), []);
    assert.match(history, /Encoded failure/);
  });
});
