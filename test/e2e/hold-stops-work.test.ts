/**
 * Issue 16, point 2, on the real stack (Temporal dev server, the engine's worker and API, PostgreSQL): a
 * legal hold placed while an erase runs stops it between batches; the status shows what it had done; nothing
 * more changes while held; the release resumes the same work (the receipt counts every row once) and nobody
 * else's rows change. Row locks held by the test keep the erase busy at known points.
 */
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { hashApiKey } from '../../src/api/auth';
import { publicKeysFromJwks, verifyCertificate } from '../../src/certificate';
import { engineClient } from '../../src/engine';
import { defaultConnectors } from '../../src/systems/registry';
import { workflowIdFor } from '../../src/workflows/definitions';
import { freshDatabase, sharedPostgres } from '../harness/postgres';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const alice = 'alice.held@example.org';
const bob = 'bob.bystander@example.org';
const legalKey = 'test-legal-team-key-0123456789';
const catalog = `
systems:
  - id: orders-db
    kind: postgres
    connection: \${ORDERS_DATABASE_URL}
    lockTimeoutMs: 120000
    statementTimeoutMs: 120000
    tables:
      - { table: orders, match: { column: email, identifier: email }, action: delete, batchSize: 5 }
`;

describe('a legal hold stops an erase in flight (dev server, real worker, real PostgreSQL)', function () {
  let stack: Stack;
  let shop: pg.Pool;
  let client: Client;

  before(async () => {
    const server = await sharedPostgres();
    const url = server.urlFor(await freshDatabase(server, 'orders'));
    shop = new pg.Pool({ connectionString: url, max: 4 });
    // Three-digit ids, so the erase's key order (text) is numeric order: batches of five, 100-104 first.
    await shop.query(`CREATE TABLE orders (id integer PRIMARY KEY, email text NOT NULL, item text NOT NULL)`);
    await shop.query(`INSERT INTO orders SELECT i, $1, 'item ' || i FROM generate_series(100, 139) i`, [alice]);
    await shop.query(`INSERT INTO orders SELECT i, $1, 'item ' || i FROM generate_series(200, 204) i`, [bob]);
    stack = await startStack({ catalog, connectors: defaultConnectors, env: { ORDERS_DATABASE_URL: url }, apiKeys: [`legal:hold:${hashApiKey(legalKey)}`] });
    client = engineClient(stack.engine);
  });
  after(async () => {
    await client?.connection.close().catch(() => undefined);
    await stack?.stop();
    await shop?.end();
  });

  const left = async (email: string) => Number((await shop.query('SELECT count(*) AS n FROM orders WHERE email = $1', [email])).rows[0].n);
  const bobsRows = async () => JSON.stringify((await shop.query('SELECT * FROM orders WHERE email = $1 ORDER BY id', [bob])).rows);

  /** Locks rows `from`..`to` in a transaction of its own until `release()`. */
  async function lockRows(from: number, to: number): Promise<{ release(): Promise<void> }> {
    const c = await shop.connect();
    await c.query('BEGIN');
    await c.query('SELECT id FROM orders WHERE id BETWEEN $1 AND $2 FOR UPDATE', [from, to]);
    return {
      async release() {
        await c.query('COMMIT');
        c.release();
      },
    };
  }

  it('stops between batches, shows what completed, changes nothing while held, and resumes on release', async () => {
    const bobBefore = await bobsRows();
    const first = await lockRows(100, 104);
    const fifth = await lockRows(120, 124);
    let released = false;
    try {
      const admin = http(stack, keys.all);
      const legal = http(stack, legalKey);
      const res = await admin('POST', '/erasures', { subject: { email: alice }, jurisdiction: 'GDPR' });
      assert.equal(res.status, 202, res.text);
      const id = res.json.requestId as string;
      const status = async () => (await admin('GET', `/erasures/${id}`)).json;
      // The first batch waits on the test's lock: the erase is busy.
      await eventually(async () => (await status())?.systems?.[0]?.status === 'erasing', 'erasing');
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await left(alice), 40, 'the first batch is still waiting on the lock');

      const hold = await legal('POST', `/erasures/${id}/legal-hold`, { reason: 'litigation 2026-17', placedBy: 'legal@corp' });
      assert.equal(hold.status, 202, hold.text);
      // Temporal asks the activity to stop; it learns so at its next heartbeat, after the batch in flight.
      await eventually(async () => {
        const history = await client.workflow.getHandle(workflowIdFor(id)).fetchHistory();
        return history.events?.some((e) => e.activityTaskCancelRequestedEventAttributes);
      }, 'the activity asked to stop');
      await first.release();
      await new Promise((r) => setTimeout(r, 3000));
      await fifth.release();
      released = true;

      const held = await eventually(async () => {
        const s = await status();
        return s?.systems?.[0]?.interrupted && s.systems[0].status === 'pending' && s;
      }, 'the erase stopped for the hold');
      assert.equal(held.status, 'on_hold');
      const remaining = await left(alice);
      assert.ok(remaining > 0 && remaining < 40, `stopped part-way (${remaining} of 40 left)`);
      const { interrupted } = held.systems[0];
      assert.equal(interrupted.step, 'erase');
      assert.equal(interrupted.completed.changed, 40 - remaining, 'the status says what completed');
      // Batches shrink after a slow one (the locked first), so only their number is known to be at least one.
      assert.ok(interrupted.completed.batches >= 1);
      assert.equal(held.systems[0].resume, undefined, 'the resume point stays out of the status');

      // Held: nothing more is erased.
      await new Promise((r) => setTimeout(r, 4000));
      assert.equal(await left(alice), remaining);
      assert.equal(await bobsRows(), bobBefore);

      const release = await legal('DELETE', `/erasures/${id}/legal-hold`, { releasedBy: 'legal@corp' });
      assert.equal(release.status, 202, release.text);
      const done = await eventually(async () => {
        const s = await status();
        return s?.status === 'completed' && s;
      }, 'completed after the release', 60_000);
      assert.ok(done);
      assert.equal(await left(alice), 0);
      assert.equal(await bobsRows(), bobBefore, "the other subject's rows are byte-identical");

      const cert = await admin('GET', `/erasures/${id}/certificate`);
      assert.equal(cert.status, 200, cert.text);
      const receipt = cert.json.systems[0];
      // The continuing activity took up the stopped one's work: every row is counted once.
      assert.equal(receipt.found, 40);
      assert.equal(receipt.erased, 40);
      const outcome = await verifyCertificate(cert.json, publicKeysFromJwks((await http(stack)('GET', '/.well-known/jwks.json')).json));
      assert.equal(outcome.valid, true, JSON.stringify(outcome));
      const holds = cert.json.operatorActions.filter((a: { signal: string }) => a.signal.endsWith('LegalHold'));
      assert.deepEqual(
        holds.map((a: { signal: string; arrival: unknown }) => [a.signal, a.arrival]),
        [
          ['placeLegalHold', { via: 'api', actor: 'legal' }],
          ['releaseLegalHold', { via: 'api', actor: 'legal' }],
        ],
      );
    } finally {
      if (!released) {
        await first.release().catch(() => undefined);
        await fifth.release().catch(() => undefined);
      }
    }
  });
});
