/**
 * The engine on a real Temporal server with PostgreSQL persistence (src/dev/temporal-server.ts: the server built
 * from go.temporal.io/server, its schemas set up by its SQL tool), not the dev server: the engine's search
 * attributes are registered through the operator service, then a whole erasure runs through the engine's own
 * worker and API: an automated PostgreSQL system, then a manual system confirmed by an operator (a workflow
 * update), ending with a certificate that verifies. Visibility (SQL, on PostgreSQL) answers queries by ErasureStatus,
 * and the history and visibility rows are in the server's own databases.
 */
import assert from 'node:assert/strict';
import { Connection } from '@temporalio/client';
import pg from 'pg';
import { publicKeysFromJwks, verifyCertificate } from '../../src/certificate';
import { startTemporalServer, type TemporalServer } from '../../src/dev/temporal-server';
import { defaultConnectors } from '../../src/systems/registry';
import { registerSearchAttributes } from '../../src/temporal/search-attributes';
import { erasureSearchAttributes, workflowIdFor } from '../../src/workflows/definitions';
import { freshDatabase, sharedPostgres } from '../harness/postgres';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const catalog = `
systems:
  - id: orders-db
    kind: postgres
    connection: \${SHOP_DATABASE_URL}
    tables:
      - { table: orders, match: { column: email, identifier: email }, action: delete }
  - id: legacy-billing
    kind: manual
    owner: billing-team
    reminderEvery: 3d
`;
const email = 'dana.pgserver@example.org';
const bystander = 'eli.bystander@example.org';

describe('Temporal server with PostgreSQL persistence (go.temporal.io/server, real worker and API)', function () {
  this.timeout(180_000);
  let temporal: TemporalServer;
  let stack: Stack;
  let shop: pg.Pool;
  let requestId: string;
  const api = () => http(stack, keys.all);

  before(async () => {
    const server = await sharedPostgres();
    temporal = await startTemporalServer({ pg: server, database: await freshDatabase(server, 'temporal') });
    const connection = await Connection.connect({ address: temporal.address });
    try {
      await registerSearchAttributes(connection, temporal.namespace);
    } finally {
      await connection.close();
    }
    const url = server.urlFor(await freshDatabase(server, 'pgshop'));
    shop = new pg.Pool({ connectionString: url, max: 2 });
    await shop.query('CREATE TABLE orders (id serial PRIMARY KEY, email text NOT NULL, item text NOT NULL)');
    await shop.query(`INSERT INTO orders (email, item) SELECT $1, 'item ' || n FROM generate_series(1, 5) n`, [email]);
    await shop.query(`INSERT INTO orders (email, item) SELECT $1, 'item ' || n FROM generate_series(1, 3) n`, [bystander]);
    stack = await startStack({ catalog, connectors: defaultConnectors, env: { SHOP_DATABASE_URL: url }, temporal });
  });
  after(async () => {
    await stack?.stop();
    await shop?.end();
    await temporal?.stop();
  });

  it('has the engine\'s search attributes registered through the operator service (idempotently)', async () => {
    const connection = await Connection.connect({ address: temporal.address });
    try {
      await registerSearchAttributes(connection, temporal.namespace); // a second time changes nothing
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: temporal.namespace });
      for (const { name } of erasureSearchAttributes) assert.ok(customAttributes?.[name] !== undefined, `${name} is registered`);
    } finally {
      await connection.close();
    }
  });

  it('erases the automated system, waits for the manual one, and lists the request by ErasureStatus', async () => {
    const res = await api()('POST', '/erasures', { subject: { email }, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    requestId = res.json.requestId;
    const status = await eventually(async () => {
      const s = await api()('GET', `/erasures/${requestId}`);
      const orders = s.json?.systems?.find((x: { id: string }) => x.id === 'orders-db');
      return s.json?.status === 'awaiting_confirmation' && ['erased', 'verified'].includes(orders?.status) && s.json;
    }, 'orders-db erased, legacy-billing awaiting confirmation', 60_000);
    assert.deepEqual(status.pendingConfirmations, ['legacy-billing']);
    const { rows } = await shop.query<{ email: string; n: number }>('SELECT email, count(*)::int AS n FROM orders GROUP BY email');
    assert.deepEqual(rows, [{ email: bystander, n: 3 }], 'only the subject\'s orders are gone');
    const ids = await eventually(async () => {
      const found: string[] = [];
      for await (const w of stack.api.client.workflow.list({ query: `ErasureStatus = 'awaiting_confirmation'` })) found.push(w.workflowId);
      return found.includes(workflowIdFor(requestId)) && found;
    }, 'visibility by ErasureStatus', 30_000);
    assert.deepEqual(ids, [workflowIdFor(requestId)]);
  });

  it('completes once the operator confirms the manual system, with a certificate that verifies', async () => {
    assert.ok(requestId, 'the request was accepted');
    const confirm = await http(stack, keys.operator)('POST', `/erasures/${requestId}/confirmations`, { system: 'legacy-billing', confirmedBy: 'ops', reference: 'T-19' });
    assert.equal(confirm.status, 202, confirm.text);
    await eventually(async () => (await api()('GET', `/erasures/${requestId}`)).json?.status === 'completed', 'completed', 60_000);
    const cert = await api()('GET', `/erasures/${requestId}/certificate`);
    assert.equal(cert.status, 200, cert.text);
    assert.deepEqual(cert.json.systems.map((s: { systemId: string }) => s.systemId).sort(), ['legacy-billing', 'orders-db']);
    const orders = cert.json.systems.find((s: { systemId: string }) => s.systemId === 'orders-db');
    assert.equal(orders.erased, 5);
    const jwks = publicKeysFromJwks((await http(stack)('GET', '/.well-known/jwks.json')).json);
    const outcome = await verifyCertificate(cert.json, jwks);
    assert.equal(outcome.valid, true, JSON.stringify(outcome));
    const done = await eventually(async () => {
      const n = await stack.api.client.workflow.count(`ErasureStatus = 'completed' AND WorkflowId = '${workflowIdFor(requestId)}'`);
      return n.count > 0 && n.count;
    }, 'visibility of the completed run', 30_000);
    assert.equal(done, 1);
  });

  it('runs a bulk extend as a Temporal batch operation (the server\'s batcher) on the requests a visibility query selects', async () => {
    const res = await api()('POST', '/erasures', { subject: { email: bystander }, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    const id: string = res.json.requestId;
    const before = await eventually(async () => {
      const s = (await api()('GET', `/erasures/${id}`)).json;
      return s?.status === 'awaiting_confirmation' && s;
    }, 'second request awaiting confirmation', 60_000);
    const started = await api()('POST', '/bulk/extend', { selection: { query: "ErasureStatus = 'awaiting_confirmation'" }, payload: { days: 20, reason: 'complex request' } });
    assert.equal(started.status, 202, started.text);
    assert.deepEqual([started.json.count, started.json.sample], [1, [id]], 'the completed request is not selected');
    const view = await eventually(async () => {
      const v = (await api()('GET', `/bulk/batches/${started.json.batchId}`)).json;
      return v?.state === 'completed' && v;
    }, 'the batch operation completed', 60_000);
    assert.deepEqual(view.signalled, { total: 1, completed: 1, failed: 0 });
    const want = new Date(Date.parse(before.deadline) + 20 * 86_400_000).toISOString();
    await eventually(async () => (await api()('GET', `/erasures/${id}`)).json?.deadline === want, 'the deadline moved 20 days');
  });

  it('kept the run in the server\'s own PostgreSQL databases (history and SQL visibility), not in SQLite', async () => {
    assert.ok(requestId, 'the request was accepted');
    const server = await sharedPostgres();
    const history = new pg.Client({ connectionString: server.urlFor(temporal.databases.history) });
    const visibility = new pg.Client({ connectionString: server.urlFor(temporal.databases.visibility) });
    await history.connect();
    await visibility.connect();
    try {
      const { rows: executions } = await history.query<{ n: number }>('SELECT count(*)::int AS n FROM current_executions WHERE workflow_id = $1', [workflowIdFor(requestId)]);
      assert.equal(executions[0].n, 1);
      const { rows: vis } = await visibility.query<{ status: number }>('SELECT status FROM executions_visibility WHERE workflow_id = $1', [workflowIdFor(requestId)]);
      assert.deepEqual(vis, [{ status: 2 }], 'one completed run (WORKFLOW_EXECUTION_STATUS_COMPLETED = 2)');
    } finally {
      await history.end();
      await visibility.end();
    }
  });
});
