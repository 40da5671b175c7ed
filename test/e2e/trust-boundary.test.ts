/**
 * Issue 16, point 1, as an attacker with access to Temporal would try it, on the real stack (Temporal dev
 * server, the engine's worker and API, a shop database on real PostgreSQL):
 *  - an erasure started by hand with `temporal workflow start --input '{…}'` in plain JSON erases nothing
 *    and gets no certificate: the worker's codec refuses input it did not seal;
 *  - an input sealed with the engine's codec (as someone holding the codec server's token could) whose plan
 *    names a table the catalog does not declare erases nothing: the system needs attention, with the reason;
 *  - a sealed input for a request the ledger never received gets no certificate;
 *  - and a request the intake received is erased exactly as the catalog says, and certified.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import pg from 'pg';
import { systemPlan } from '../../src/catalog/load';
import { ExitCode, runLedgerCheck } from '../../src/cli/certificate';
import { toolPaths } from '../../src/dev/servers';
import { defaultPolicies, failureTypes, type SystemPlan } from '../../src/domain';
import { engineClient } from '../../src/engine';
import { defaultConnectors } from '../../src/systems/registry';
import { statusQuery, type ErasureInput } from '../../src/workflows/definitions';
import { captureIo } from '../harness/cli-io';
import { freshDatabase, sharedPostgres } from '../harness/postgres';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const run = promisify(execFile);
const alice = 'alice.target@example.org';
const bob = 'bob.requester@example.org';

const catalog = `
systems:
  - id: customers-db
    kind: postgres
    connection: \${SHOP_DATABASE_URL}
    tables:
      - { table: customers, match: { column: email, identifier: email }, action: delete }
`;

describe('trust boundary: only the catalog decides what is erased (dev server, real worker, real PostgreSQL)', function () {
  let stack: Stack;
  let shop: pg.Pool;
  let client: Client;

  before(async () => {
    const server = await sharedPostgres();
    const shopUrl = server.urlFor(await freshDatabase(server, 'shop'));
    shop = new pg.Pool({ connectionString: shopUrl, max: 2 });
    await shop.query(`
      CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL, name text);
      CREATE TABLE payroll (id serial PRIMARY KEY, email text NOT NULL, salary integer);
      INSERT INTO customers (email, name) VALUES ('${alice}', 'Alice'), ('${bob}', 'Bob');
      INSERT INTO payroll (email, salary) VALUES ('${alice}', 50000), ('${bob}', 60000);`);
    stack = await startStack({ catalog, connectors: defaultConnectors, env: { SHOP_DATABASE_URL: shopUrl } });
    client = engineClient(stack.engine);
  });
  after(async () => {
    await client?.connection.close().catch(() => undefined);
    await stack?.stop();
    await shop?.end();
  });

  const rowsOf = async (table: string, email: string) => Number((await shop.query(`SELECT count(*) AS n FROM ${table} WHERE email = $1`, [email])).rows[0].n);
  const certificates = async (requestId: string) =>
    Number((await stack.engine.pool.query('SELECT count(*) AS n FROM certificates WHERE request_id = $1', [requestId])).rows[0].n);

  /** The catalog's customers-db plan, its tables widened to payroll, which the catalog does not declare. */
  function forgedPlan(): SystemPlan {
    const honest = systemPlan(stack.engine.catalog.systems[0]);
    const tables = honest.spec.tables as Array<Record<string, unknown>>;
    return { ...honest, spec: { ...honest.spec, tables: [...tables, { ...tables[0], table: 'payroll' }] } };
  }
  const inputFor = (requestId: string, systems: SystemPlan[]): ErasureInput => ({
    requestId,
    subject: { email: alice },
    subjectRef: 'subj_forged',
    receivedAt: new Date().toISOString(),
    plan: { policy: defaultPolicies.GDPR, systems, consumers: [] },
  });

  it('erases nothing and certifies nothing for a workflow started by hand with plain JSON input', async () => {
    const workflowId = 'erasure-handmade-1';
    await run(toolPaths().temporal, [
      'workflow', 'start', '--type', 'erasureWorkflow', '--task-queue', stack.env.TASK_QUEUE!, '--workflow-id', workflowId,
      '--input', JSON.stringify(inputFor('handmade-1', [forgedPlan()])), '--address', stack.temporal.address,
    ], { timeout: 60_000 });
    const handle = client.workflow.getHandle(workflowId);
    const { EventType } = proto.api.enums.v1;
    // The worker refused the input: the run failed at once, non-retryable, never an activity.
    const history = await eventually(async () => {
      const h = await handle.fetchHistory();
      const types = (h.events ?? []).map((e) => e.eventType);
      return types.includes(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED) && types;
    }, 'the worker refusing the input');
    const failed = await handle.result().then(() => undefined, (err: { cause?: { type?: string; nonRetryable?: boolean } }) => err.cause);
    assert.equal(failed?.type, 'UnsealedInputError');
    assert.equal(failed?.nonRetryable, true);
    assert.ok(!history.includes(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), 'no activity was scheduled');
    assert.ok(!history.includes(EventType.EVENT_TYPE_MARKER_RECORDED), 'no local activity ran');
    assert.deepEqual([await rowsOf('customers', alice), await rowsOf('payroll', alice)], [1, 1]);
    assert.equal(await certificates('handmade-1'), 0);
  });

  it('erases nothing when a sealed input names a table the catalog does not declare: the system needs attention, saying why', async () => {
    const workflowId = 'erasure-forged-2';
    const handle = await client.workflow.start('erasureWorkflow', { workflowId, taskQueue: stack.env.TASK_QUEUE!, args: [inputFor('forged-2', [forgedPlan()])] });
    const status = await eventually(async () => {
      const s = await handle.query(statusQuery);
      return s.systems.find((x) => x.id === 'customers-db')?.status === 'needs_attention' && s;
    }, 'customers-db in needs_attention');
    const system = status.systems.find((x) => x.id === 'customers-db')!;
    assert.match(system.lastError ?? '', /the request's plan differs from this worker's catalog in spec\.tables, so nothing was changed/);
    assert.ok(!(system.lastError ?? '').includes(alice), 'no identifier in the reason');
    assert.deepEqual([await rowsOf('customers', alice), await rowsOf('payroll', alice)], [1, 1]);
    assert.equal(await certificates('forged-2'), 0);
    await handle.terminate('test over');
  });

  it('certifies nothing for a sealed input whose request the ledger never received', async () => {
    const handle = await client.workflow.start('erasureWorkflow', { workflowId: 'erasure-unreceived-3', taskQueue: stack.env.TASK_QUEUE!, args: [inputFor('unreceived-3', [])] });
    await assert.rejects(handle.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      const cause = err.cause?.cause as { type?: string; message?: string } | undefined;
      assert.equal(cause?.type, failureTypes.requestNotReceived);
      assert.match(cause?.message ?? '', /cannot certify request unreceived-3: the ledger never received it/);
      return true;
    });
    assert.equal(await certificates('unreceived-3'), 0);
  });

  it('erases a received request exactly as the catalog says and certifies it; the ledger check finds every certificate received', async () => {
    const api = http(stack, keys.all);
    const res = await api('POST', '/erasures', { subject: { email: bob }, jurisdiction: 'GDPR', requestId: 'honest-4' });
    assert.equal(res.status, 202, res.text);
    await eventually(async () => (await api('GET', '/erasures/honest-4')).json?.status === 'completed', 'completed', 60_000);
    assert.deepEqual([await rowsOf('customers', bob), await rowsOf('payroll', bob)], [0, 1]);
    assert.equal((await api('GET', '/erasures/honest-4/certificate')).status, 200);

    const check = captureIo();
    assert.equal(await runLedgerCheck({ databaseUrl: stack.env.DATABASE_URL }, check.io), ExitCode.ok);
    assert.match(check.out[0], /^ledger intact: 1 certificate,/);
  });
});
