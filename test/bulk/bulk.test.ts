/**
 * Issue 18, point 4, on the real stack (Temporal dev server and its batch operations, the engine's worker
 * and API, PostgreSQL): bulk operator actions chosen by a ticket's list, a status or a visibility query,
 * sent as one Temporal batch signal, and recorded on each request as if sent alone, attributed to the key and
 * the batch; a dry run changes nothing; the same batch claim replayed by hand on a request outside the batch
 * is rejected; bad queries and keys without the scope are refused.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import pg from 'pg';
import { hashApiKey } from '../../src/api/auth';
import { publicKeysFromJwks, verifyCertificate, type ErasureCertificate } from '../../src/certificate';
import { registerBulkCommands } from '../../src/cli/bulk';
import { toolPaths } from '../../src/dev/servers';
import { defaultConnectors } from '../../src/systems/registry';
import { workflowIdFor } from '../../src/workflows/definitions';
import { captureIo } from '../harness/cli-io';
import { freshDatabase, sharedPostgres } from '../harness/postgres';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const run = promisify(execFile);
// `orders` does not exist until the test creates it: every request's orders-db goes to needs_attention
// (a permanent fault), waiting for a retry, while crm waits for a confirmation.
const catalog = `
systems:
  - id: crm
    kind: manual
    owner: crm-team
  - id: orders-db
    kind: postgres
    connection: \${ORDERS_DATABASE_URL}
    tables:
      - { table: orders, match: { column: email, identifier: email }, action: delete }
`;
const clerkKey = 'test-bulk-crm-clerk-key-0123456789';
const fixerKey = 'test-bulk-fixer-key-0123456789';
const narrowKey = 'test-bulk-narrow-clerk-key-0123456789';

type Entry = Record<string, unknown>;

describe('bulk operator actions through Temporal batch operations (dev server, real worker, API and PostgreSQL)', function () {
  let stack: Stack;
  let shop: pg.Pool;
  let admin: ReturnType<typeof http>;
  const ids: string[] = [];

  before(async () => {
    const server = await sharedPostgres();
    const url = server.urlFor(await freshDatabase(server, 'bulk_orders'));
    shop = new pg.Pool({ connectionString: url, max: 2 });
    stack = await startStack({
      catalog,
      connectors: defaultConnectors,
      env: { ORDERS_DATABASE_URL: url },
      apiKeys: [`crm-clerk:confirm@crm,read:${hashApiKey(clerkKey)}`, `narrow-clerk:confirm@crm:${hashApiKey(narrowKey)}`, `fixer:retry,extend,read:${hashApiKey(fixerKey)}`],
    });
    admin = http(stack, keys.all);
    for (let i = 0; i < 5; i++) {
      const res = await admin('POST', '/erasures', { subject: { email: `bulk.${i}.${Math.random().toString(36).slice(2)}@example.org` }, jurisdiction: 'GDPR' });
      assert.equal(res.status, 202, res.text);
      ids.push(res.json.requestId as string);
    }
    ids.sort();
    await Promise.all(ids.map((id) => eventually(async () => (await stateOf(id)).status === 'needs_attention' && (await stateOf(id)).pendingConfirmations.includes('crm'), `${id} waiting on crm, orders-db needing attention`, 60_000)));
  });
  after(async () => {
    await stack?.stop();
    await shop?.end();
  });

  const stateOf = async (id: string) => (await admin('GET', `/erasures/${id}`)).json as { status: string; pendingConfirmations: string[]; deadline: string; systems: Array<{ id: string; status: string }> };
  const ledgerActions = async (id: string): Promise<Entry[]> =>
    (await stack.engine.pool.query<{ detail: { actions: Entry[] } }>(`SELECT detail FROM events WHERE request_id = $1 AND type = 'operator.actions' ORDER BY id`, [id])).rows.flatMap((r) => r.detail.actions);
  const actionsOf = (id: string, signal: string, want = 1) =>
    eventually(async () => {
      const found = (await ledgerActions(id)).filter((a) => a.signal === signal);
      return found.length >= want && found;
    }, `${signal} in ${id}'s ledger trail`);
  const batchCount = async () => Number((await stack.engine.pool.query('SELECT count(*) AS n FROM bulk_batches')).rows[0].n);

  /** Runs `erasure bulk …` against the stack's API, as an operator would. */
  async function cli(key: string, ...args: string[]) {
    const c = captureIo({ ERASURE_API_URL: stack.api.url, ERASURE_API_KEY: key });
    const program = new Command('erasure').exitOverride();
    registerBulkCommands(program, c.io);
    await program.parseAsync(['node', 'erasure', 'bulk', ...args, ...(args.includes('--dry-run') || args[0] === 'status' ? [] : ['--interval', '300'])]);
    return c;
  }
  const ticket = (name: string, lines: string[]) => {
    const file = path.join(stack.dataDir, name);
    fs.writeFileSync(file, lines.join('\n'));
    return file;
  };

  it("counts a ticket's requests on a dry run, and changes nothing", async () => {
    const file = ticket('ticket-dry.txt', ['# ticket T-100', ids[0], ids[1], '', ids[2], 'no-such-request']);
    const c = await cli(clerkKey, 'confirm', '--system', 'crm', '--requests', file, '--reference', 'T-100', '--dry-run');
    assert.equal(c.code(), 0, c.err.join('\n'));
    assert.match(c.out[0], new RegExp(`^3 open requests would be reached; nothing sent \\(dry run\\): ${ids[0]}, ${ids[1]}, ${ids[2]}$`));
    assert.match(c.out[1], /^1 listed not reached .*: no-such-request$/);
    const api = await http(stack, clerkKey)('POST', '/bulk/confirm', { selection: { requests: ids.slice(0, 3) }, payload: { system: 'crm' }, dryRun: true });
    assert.equal(api.status, 200, api.text);
    assert.deepEqual(api.json, { dryRun: true, count: 3, sample: ids.slice(0, 3), unmatched: { count: 0, sample: [] } });
    assert.equal(await batchCount(), 0, 'no batch recorded');
    for (const id of ids) assert.ok((await stateOf(id)).pendingConfirmations.includes('crm'), `${id} still awaits crm`);
  });

  it('refuses an empty selection, a bad query with Temporal\'s own message, and keys without the scope', async () => {
    const clerk = http(stack, clerkKey);
    const empty = await clerk('POST', '/bulk/confirm', { selection: {}, payload: { system: 'crm' } });
    assert.equal(empty.status, 400, empty.text);
    assert.match(JSON.stringify(empty.json), /choose the requests/);
    const bad = await http(stack, fixerKey)('POST', '/bulk/retry', { selection: { query: "NoSuchAttribute = 'x'" }, payload: { system: 'orders-db' }, dryRun: true });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json.detail, /Temporal refused the selection's query: .*NoSuchAttribute/);
    const escape = await http(stack, fixerKey)('POST', '/bulk/retry', { selection: { query: "ErasureStatus = 'x') OR (WorkflowType = 'other'" }, payload: { system: 'orders-db' } });
    assert.equal(escape.status, 400, escape.text);
    assert.match(escape.json.detail, /unbalanced parentheses/);
    const viaCli = await cli(fixerKey, 'retry', '--system', 'orders-db', '--query', 'ErasureStatus = ');
    assert.equal(viaCli.code(), 2);
    assert.match(viaCli.err.join('\n'), /^erasure bulk: 400: Temporal refused the selection's query/);
    // The clerk may confirm crm only: not orders-db, never retry or extend.
    assert.equal((await clerk('POST', '/bulk/confirm', { selection: { requests: ids }, payload: { system: 'orders-db' }, dryRun: true })).status, 403);
    assert.equal((await clerk('POST', '/bulk/retry', { selection: { requests: ids }, payload: { system: 'crm' }, dryRun: true })).status, 403);
    assert.equal((await clerk('POST', '/bulk/extend', { selection: { requests: ids }, payload: { days: 10, reason: 'complex' } })).status, 403);
    assert.equal((await http(stack, keys.read)('POST', '/bulk/confirm', { selection: { requests: ids }, payload: { system: 'crm' } })).status, 403);
    assert.equal(await batchCount(), 0, 'nothing refused was recorded');
    assert.equal((await http(stack, keys.read)('GET', '/bulk/batches/bulk-00000000-0000-0000-0000-000000000000')).status, 404);
    assert.equal((await http(stack, keys.read)('GET', '/bulk/batches/not-a-batch')).status, 400);
  });

  let confirmBatch: string;

  it("confirms exactly the ticket's requests, each recorded via the API by the key, in the batch", async () => {
    const listed = ids.slice(0, 3);
    const c = await cli(clerkKey, 'confirm', '--system', 'crm', '--requests', ticket('ticket-123.txt', listed), '--reference', 'T-123');
    assert.equal(c.code(), 0, [...c.out, ...c.err].join('\n'));
    assert.match(c.out[0], /^3 open requests reached: /);
    const started = /^batch (bulk-[0-9a-f-]{36}) started$/.exec(c.out[1]);
    assert.ok(started, c.out.join('\n'));
    confirmBatch = started[1];
    assert.equal(c.out.at(-1), `${confirmBatch}: completed, 3/3 signalled, 0 not delivered; recorded 3 accepted, 0 refused`, c.out.join('\n'));
    for (const id of listed) await eventually(async () => !(await stateOf(id)).pendingConfirmations.includes('crm'), `${id} confirmed`);
    for (const id of ids.slice(3)) assert.ok((await stateOf(id)).pendingConfirmations.includes('crm'), `${id}, not listed, still awaits crm`);
    for (const id of listed) {
      const [entry] = await actionsOf(id, 'confirmDeletion');
      assert.deepEqual([entry.accepted, entry.system, entry.via, entry.actor, entry.batch, entry.claimRejected], [true, 'crm', 'api', 'crm-clerk', confirmBatch, undefined], JSON.stringify(entry));
      assert.equal(entry.attestation, undefined, 'the trail keeps no claim');
    }
    const { rows } = await stack.engine.pool.query('SELECT actor, signal, fields, request_count FROM bulk_batches WHERE batch_id = $1', [confirmBatch]);
    assert.deepEqual(rows, [{ actor: 'crm-clerk', signal: 'confirmDeletion', fields: { system: 'crm' }, request_count: 3 }]);
    const view = await eventually(async () => {
      const v = (await http(stack, keys.read)('GET', `/bulk/batches/${confirmBatch}`)).json;
      return v?.recorded?.accepted === 3 && v;
    }, 'the batch view counts three accepted');
    assert.deepEqual([view.state, view.actor, view.action, view.count, view.signalled], ['completed', 'crm-clerk', 'confirmDeletion', 3, { total: 3, completed: 3, failed: 0 }]);
  });

  it('rejects the batch claim replayed by hand on a request outside the batch', async () => {
    const outsider = ids[3];
    const { rows } = await stack.engine.pool.query<{ created_at: Date }>('SELECT created_at FROM bulk_batches WHERE batch_id = $1', [confirmBatch]);
    // The very claim every request of the batch received, as it can be read from any of their histories.
    const claim = stack.engine.attestor.claimBatch({ batchId: confirmBatch, signal: 'confirmDeletion', fields: { system: 'crm' } }, 'crm-clerk', rows[0].created_at);
    await run(toolPaths().temporal, [
      'workflow', 'signal', '--address', stack.temporal.address, '--workflow-id', workflowIdFor(outsider), '--name', 'confirmDeletion',
      '--input', JSON.stringify({ system: 'crm', confirmedBy: 'mallory', claim }),
    ], { timeout: 60_000 });
    const [entry] = await actionsOf(outsider, 'confirmDeletion');
    assert.deepEqual([entry.via, entry.actor, entry.batch, entry.claimRejected], ['temporal', undefined, undefined, true], JSON.stringify(entry));
  });

  it('retries a system for every request in needs_attention, then certifies who did what', async () => {
    await shop.query('CREATE TABLE orders (id serial PRIMARY KEY, email text NOT NULL)');
    const dry = await cli(fixerKey, 'retry', '--system', 'orders-db', '--status', 'needs_attention', '--dry-run');
    assert.equal(dry.code(), 0, dry.err.join('\n'));
    assert.match(dry.out[0], /^5 open requests would be reached/);
    const c = await cli(fixerKey, 'retry', '--system', 'orders-db', '--status', 'needs_attention');
    assert.equal(c.code(), 0, [...c.out, ...c.err].join('\n'));
    const batch = /^batch (bulk-[0-9a-f-]{36}) started$/.exec(c.out[1])![1];
    for (const id of ids) {
      const [entry] = await actionsOf(id, 'retrySystem');
      assert.deepEqual([entry.accepted, entry.via, entry.actor, entry.batch], [true, 'api', 'fixer', batch], JSON.stringify(entry));
    }
    // The confirmed three have nothing left to wait for: their certificates say who confirmed and who retried.
    const first = ids[0];
    await eventually(async () => (await stateOf(first)).status === 'completed', `${first} completed`, 60_000);
    const res = await admin('GET', `/erasures/${first}/certificate`);
    assert.equal(res.status, 200, res.text);
    const cert = res.json as ErasureCertificate;
    const outcome = await verifyCertificate(cert, publicKeysFromJwks((await http(stack)('GET', '/.well-known/jwks.json')).json));
    assert.equal(outcome.valid, true, JSON.stringify(outcome));
    assert.deepEqual(cert.systems.find((s) => s.systemId === 'crm')!.arrival, { via: 'api', actor: 'crm-clerk', batch: confirmBatch });
    assert.deepEqual(
      cert.operatorActions.filter((a) => a.accepted).map((a) => [a.signal, a.arrival]),
      [
        ['confirmDeletion', { via: 'api', actor: 'crm-clerk', batch: confirmBatch }],
        ['retrySystem', { via: 'api', actor: 'fixer', batch }],
      ],
    );
  });

  it('extends the deadline of every request a visibility query selects', async () => {
    // The hand-replayed confirmation above was applied (unattributed), so only the last request still awaits crm.
    const open = ids.slice(4);
    await Promise.all(open.map((id) => eventually(async () => (await stateOf(id)).status === 'awaiting_confirmation', `${id} awaiting crm only`, 60_000)));
    const before = new Map(await Promise.all(open.map(async (id) => [id, (await stateOf(id)).deadline] as const)));
    const started = await http(stack, fixerKey)('POST', '/bulk/extend', {
      selection: { query: "ErasureStatus = 'awaiting_confirmation' AND ErasurePendingSystems = 'crm'" },
      payload: { days: 20, reason: 'complex requests, Art. 12(3)' },
    });
    assert.equal(started.status, 202, started.text);
    assert.deepEqual([started.json.count, started.json.sample], [open.length, open]);
    const c = await cli(fixerKey, 'status', started.json.batchId, '--wait', '--interval', '300');
    assert.equal(c.code(), 0, [...c.out, ...c.err].join('\n'));
    for (const id of open) {
      const want = new Date(Date.parse(before.get(id)!) + 20 * 86_400_000).toISOString();
      await eventually(async () => (await stateOf(id)).deadline === want, `${id}'s deadline moved 20 days`);
      const [entry] = await actionsOf(id, 'extendDeadline');
      assert.deepEqual([entry.accepted, entry.days, entry.via, entry.actor, entry.batch], [true, 20, 'api', 'fixer', started.json.batchId], JSON.stringify(entry));
    }
  });

  it('lets a key narrowed to confirm@crm send a batch it may not read, and names it', async () => {
    const last = ids[4];
    const c = await cli(narrowKey, 'confirm', '--system', 'crm', '--requests', ticket('ticket-last.txt', [last]));
    assert.equal(c.code(), 0, [...c.out, ...c.err].join('\n'));
    assert.match(c.err.join('\n'), /the batch is started, but this key cannot follow it \(403: .*"read" scope\)/);
    const [entry] = await actionsOf(last, 'confirmDeletion');
    assert.deepEqual([entry.accepted, entry.via, entry.actor], [true, 'api', 'narrow-clerk'], JSON.stringify(entry));
    assert.match(String(entry.batch), /^bulk-/);
  });
});
