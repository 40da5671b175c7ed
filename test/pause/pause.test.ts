/**
 * Issue 18, point 3, on the real stack (Temporal dev server, the engine's worker and API, PostgreSQL): one
 * automated system paused for every request. Requests that arrive while it is paused wait (status `paused`,
 * ErasureStatus = 'paused') without touching it or spending retries, while their other systems go on; an erase
 * in flight stops after its current batch; the resume lets every one finish from where it was. The audit log
 * names the API key of each pause and resume, and the API and the `erasure system` commands refuse what
 * cannot be paused. Row locks held by the test keep an erase busy at known points.
 */
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { Command } from 'commander';
import pg from 'pg';
import { hashApiKey } from '../../src/api/auth';
import { publicKeysFromJwks, verifyCertificate } from '../../src/certificate';
import { registerSystemCommands } from '../../src/cli/system';
import { engineClient } from '../../src/engine';
import { defaultConnectors } from '../../src/systems/registry';
import { workflowIdFor } from '../../src/workflows/definitions';
import { captureIo } from '../harness/cli-io';
import { freshDatabase, sharedPostgres } from '../harness/postgres';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const opsKey = 'test-ops-pause-key-0123456789';
const subjects = ['ann.paused@example.org', 'ben.paused@example.org', 'cat.paused@example.org'];
const carol = 'carol.inflight@example.org';
const dan = 'dan.late@example.org';
const bob = 'bob.bystander@example.org';
const catalog = `
systems:
  - id: orders-db
    kind: postgres
    connection: \${SHOP_DATABASE_URL}
    lockTimeoutMs: 120000
    statementTimeoutMs: 120000
    tables:
      - { table: orders, match: { column: email, identifier: email }, action: delete, batchSize: 5 }
  - id: newsletter-db
    kind: postgres
    connection: \${SHOP_DATABASE_URL}
    tables:
      - { table: subscribers, match: { column: email, identifier: email }, action: delete }
  - id: legacy-billing
    kind: manual
    owner: billing-team
    reminderEvery: 3d
`;

describe('pausing a system for every request (dev server, real worker, real PostgreSQL)', function () {
  this.timeout(180_000);
  let stack: Stack;
  let shop: pg.Pool;
  let client: Client;
  const admin = () => http(stack, keys.all);
  const ops = () => http(stack, opsKey);
  const operator = () => http(stack, keys.operator);

  before(async () => {
    const server = await sharedPostgres();
    const url = server.urlFor(await freshDatabase(server, 'shop'));
    shop = new pg.Pool({ connectionString: url, max: 4 });
    // Three-digit ids, so the erase's key order (text) is numeric order: batches of five.
    await shop.query('CREATE TABLE orders (id integer PRIMARY KEY, email text NOT NULL, item text NOT NULL)');
    for (const [i, email] of subjects.entries()) {
      await shop.query(`INSERT INTO orders SELECT n, $1, 'item ' || n FROM generate_series($2::int, $2::int + 4) n`, [email, 100 + 10 * i]);
    }
    await shop.query(`INSERT INTO orders SELECT n, $1, 'item ' || n FROM generate_series(300, 339) n`, [carol]);
    await shop.query(`INSERT INTO orders SELECT n, $1, 'item ' || n FROM generate_series(400, 404) n`, [dan]);
    await shop.query(`INSERT INTO orders SELECT n, $1, 'item ' || n FROM generate_series(200, 204) n`, [bob]);
    await shop.query('CREATE TABLE subscribers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, topics text NOT NULL)');
    await shop.query(`INSERT INTO subscribers (email, topics) SELECT e, 'news' FROM unnest($1::text[]) e`, [[...subjects, carol, dan, bob]]);
    stack = await startStack({ catalog, connectors: defaultConnectors, env: { SHOP_DATABASE_URL: url }, apiKeys: [`ops:pause:${hashApiKey(opsKey)}`] });
    client = engineClient(stack.engine);
  });
  afterEach(async function () {
    // A failed test may leave a system paused; the next tests start from none.
    if (this.currentTest?.state !== 'failed') return;
    for (const system of ['orders-db', 'newsletter-db']) await admin()('POST', `/systems/${system}/resume`, {});
  });
  after(async () => {
    await client?.connection.close().catch(() => undefined);
    await stack?.stop();
    await shop?.end();
  });

  const orders = async () => JSON.stringify((await shop.query('SELECT * FROM orders ORDER BY id')).rows);
  const ordersOf = async (email: string) => JSON.stringify((await shop.query('SELECT * FROM orders WHERE email = $1 ORDER BY id', [email])).rows);
  const left = async (email: string) => Number((await shop.query('SELECT count(*) AS n FROM orders WHERE email = $1', [email])).rows[0].n);
  const subscribed = async (email: string) => Number((await shop.query('SELECT count(*) AS n FROM subscribers WHERE email = $1', [email])).rows[0].n);
  const status = async (id: string) => (await admin()('GET', `/erasures/${id}`)).json;
  const systemOf = (s: any, id: string) => s?.systems?.find((x: { id: string }) => x.id === id);

  /** Submits an erasure and confirms its manual system, so that only the automated ones decide when it completes. */
  async function submit(email: string): Promise<string> {
    const res = await admin()('POST', '/erasures', { subject: { email }, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    const id = res.json.requestId as string;
    // Accepted once the request has asked its owner (until then: 409, not awaiting confirmation).
    await eventually(async () => (await admin()('POST', `/erasures/${id}/confirmations`, { system: 'legacy-billing', confirmedBy: 'billing-team' })).status === 202, 'legacy-billing confirmed');
    return id;
  }

  /**
   * The eraseSystem activities in a request's history: how many were scheduled and completed, the failure
   * type of each that failed, and the attempt of each start. Read from the events themselves, not their
   * payloads: those are encrypted under the request's data key, destroyed once its certificate is issued.
   */
  async function eraseActivities(id: string): Promise<{ scheduled: number; completed: number; failed: string[]; attempts: number[] }> {
    const events = (await client.workflow.getHandle(workflowIdFor(id)).fetchHistory()).events ?? [];
    const erases = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'eraseSystem').map((e) => String(e.eventId)));
    const of = (scheduledEventId: unknown) => erases.has(String(scheduledEventId));
    return {
      scheduled: erases.size,
      completed: events.filter((e) => of(e.activityTaskCompletedEventAttributes?.scheduledEventId)).length,
      failed: events
        .filter((e) => of(e.activityTaskFailedEventAttributes?.scheduledEventId))
        .map((e) => e.activityTaskFailedEventAttributes!.failure?.applicationFailureInfo?.type ?? 'unknown'),
      attempts: events.filter((e) => of(e.activityTaskStartedEventAttributes?.scheduledEventId)).map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 0),
    };
  }

  async function assertCertificate(id: string, system: string, count: number, attempts: number): Promise<void> {
    const cert = await admin()('GET', `/erasures/${id}/certificate`);
    assert.equal(cert.status, 200, cert.text);
    const receipt = cert.json.systems.find((s: { systemId: string }) => s.systemId === system);
    assert.ok(receipt, JSON.stringify(cert.json.systems));
    assert.equal(receipt.found, count);
    assert.equal(receipt.erased, count);
    assert.equal(receipt.attempts, attempts, 'attempts counted on the receipt');
    const outcome = await verifyCertificate(cert.json, publicKeysFromJwks((await http(stack)('GET', '/.well-known/jwks.json')).json));
    assert.equal(outcome.valid, true, JSON.stringify(outcome));
  }

  /** Runs `erasure system …` against the stack with `key`. */
  async function cli(key: string, ...args: string[]) {
    const c = captureIo({ ERASURE_API_URL: stack.api.url, ERASURE_API_KEY: key });
    const program = new Command('erasure').exitOverride();
    registerSystemCommands(program, c.io);
    await program.parseAsync(['node', 'erasure', 'system', ...args]);
    return { code: c.code(), out: c.out.join('\n'), err: c.err.join('\n') };
  }

  it('requests that arrive while a system is paused wait without touching it or spending retries, and all complete on the resume', async () => {
    const reason = 'orders connector upgrade until 06:00';
    const paused = await ops()('POST', '/systems/orders-db/pause', { reason });
    assert.equal(paused.status, 200, paused.text);
    assert.equal(paused.json.changed, true);
    assert.equal(paused.json.notified, 0, 'no request was running yet');
    assert.equal(paused.json.pause.pausedBy, 'ops');
    const listed = (await admin()('GET', '/systems')).json.systems;
    assert.deepEqual(
      listed.find((s: { id: string }) => s.id === 'orders-db').paused,
      { systemId: 'orders-db', pausedAt: paused.json.pause.pausedAt, pausedBy: 'ops', reason },
    );
    assert.equal(listed.find((s: { id: string }) => s.id === 'newsletter-db').paused, undefined);

    const before = await orders();
    const bobBefore = await ordersOf(bob);
    const ids: string[] = [];
    for (const email of subjects) ids.push(await submit(email));

    for (const id of ids) {
      const s = await eventually(async () => {
        const s = await status(id);
        return s?.status === 'paused' && systemOf(s, 'orders-db')?.paused && s;
      }, `request ${id} shows paused`);
      assert.equal(systemOf(s, 'orders-db').status, 'pending');
    }
    await eventually(
      async () => (await client.workflow.count(`ErasureStatus = 'paused' AND ErasurePendingSystems = 'orders-db'`)).count === 3,
      "ErasureStatus = 'paused' for the 3 requests",
    );
    // The pause is of one system: the others of the same requests go on.
    await eventually(async () => (await Promise.all(subjects.map(subscribed))).every((n) => n === 0), 'newsletter-db erased meanwhile');

    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(await orders(), before, 'not a row of the paused system changed');
    for (const id of ids) {
      // newsletter-db's erase, and orders-db's one attempt, refused by the pause without a retry: the lane waits.
      assert.deepEqual(await eraseActivities(id), { scheduled: 2, completed: 1, failed: ['SystemPausedError'], attempts: [1, 1] }, `request ${id}`);
      assert.equal((await status(id)).status, 'paused');
    }

    const resumed = await operator()('POST', '/systems/orders-db/resume', {});
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal(resumed.json.changed, true);
    assert.equal(resumed.json.notified, 3, 'every waiting request was told');
    assert.equal(resumed.json.pause.reason, reason, 'the answer shows the pause it ended');

    for (const id of ids) {
      await eventually(async () => (await status(id))?.status === 'completed', `request ${id} completed after the resume`, 60_000);
    }
    for (const [i, id] of ids.entries()) {
      assert.equal(await left(subjects[i]), 0);
      // The attempt the pause refused is not counted.
      await assertCertificate(id, 'orders-db', 5, 1);
      assert.deepEqual(await eraseActivities(id), { scheduled: 3, completed: 2, failed: ['SystemPausedError'], attempts: [1, 1, 1] }, `request ${id}: no retry spent`);
    }
    assert.equal(await ordersOf(bob), bobBefore, "the other subject's rows are byte-identical");
    assert.equal(await subscribed(bob), 1);
    assert.equal((await admin()('GET', '/systems')).json.systems.find((s: { id: string }) => s.id === 'orders-db').paused, undefined);

    const log = await admin()('GET', '/systems/pauses?system=orders-db');
    assert.equal(log.status, 200, log.text);
    assert.deepEqual(
      log.json.entries.map((e: Record<string, unknown>) => ({ action: e.action, actor: e.actor, reason: e.reason, notified: e.notified })),
      [
        { action: 'resumed', actor: 'operator', reason: null, notified: 3 },
        { action: 'paused', actor: 'ops', reason, notified: 0 },
      ],
    );
  });

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

  it('a pause (through `erasure system pause`) stops an erase in flight, nothing more changes while paused, and the resume finishes it', async () => {
    const bobBefore = await ordersOf(bob);
    const first = await lockRows(300, 304);
    const fifth = await lockRows(320, 324);
    let released = false;
    try {
      const id = await submit(carol);
      await eventually(async () => systemOf(await status(id), 'orders-db')?.status === 'erasing', 'erasing');
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await left(carol), 40, 'the first batch is still waiting on the lock');

      const paused = await cli(opsKey, 'pause', 'orders-db', '--reason', 'replica failover');
      assert.equal(paused.code, 0, paused.err);
      assert.match(paused.out, /^orders-db paused since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by "ops": replica failover$/m);
      assert.match(paused.out, /^1 running request waiting for it was told at once \(Temporal batch pause-[0-9a-f-]+\)/m);
      // Temporal asks the activity to stop; it learns so at its next heartbeat, after the batch in flight.
      await eventually(async () => {
        const history = await client.workflow.getHandle(workflowIdFor(id)).fetchHistory();
        return history.events?.some((e) => e.activityTaskCancelRequestedEventAttributes);
      }, 'the activity asked to stop');
      await first.release();
      await new Promise((r) => setTimeout(r, 3000));
      await fifth.release();
      released = true;

      const stopped = await eventually(async () => {
        const s = await status(id);
        return systemOf(s, 'orders-db')?.interrupted && systemOf(s, 'orders-db').status === 'pending' && s;
      }, 'the erase stopped for the pause');
      assert.equal(stopped.status, 'paused');
      const remaining = await left(carol);
      assert.ok(remaining > 0 && remaining < 40, `stopped part-way (${remaining} of 40 left)`);
      assert.equal(systemOf(stopped, 'orders-db').interrupted.completed.changed, 40 - remaining, 'the status says what completed');

      const snapshot = await orders();
      await new Promise((r) => setTimeout(r, 4000));
      assert.equal(await orders(), snapshot, 'nothing more changes while paused');
      assert.equal((await status(id)).status, 'paused');

      const resumed = await cli(opsKey, 'resume', 'orders-db');
      assert.equal(resumed.code, 0, resumed.err);
      assert.match(resumed.out, /^orders-db resumed \(it was paused since .* by "ops": replica failover\)$/m);
      assert.match(resumed.out, /^1 running request waiting for it was told to go on/m);
      await eventually(async () => (await status(id))?.status === 'completed', 'completed after the resume', 60_000);
      assert.equal(await left(carol), 0);
      // The erase after the resume took up the stopped one's work: every row is counted once.
      await assertCertificate(id, 'orders-db', 40, 2);
      assert.equal(await ordersOf(bob), bobBefore, "the other subject's rows are byte-identical");
      // orders-db's erase stopped by the pause, newsletter-db's, and orders-db's after the resume: no retry spent.
      assert.deepEqual(await eraseActivities(id), { scheduled: 3, completed: 2, failed: [], attempts: [1, 1, 1] });
    } finally {
      if (!released) {
        await first.release().catch(() => undefined);
        await fifth.release().catch(() => undefined);
      }
    }

    const log = await cli(keys.read, 'log', 'orders-db');
    assert.equal(log.code, 0, log.err);
    const lines = log.out.split('\n');
    assert.match(lines[0], /^AT\s+SYSTEM\s+ACTION\s+BY\s+TOLD\s+REASON$/);
    assert.match(lines[1], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+orders-db\s+resumed\s+ops\s+1\s*$/);
    assert.match(lines[2], /orders-db\s+paused\s+ops\s+1\s+replica failover$/);
    assert.match(lines[3], /orders-db\s+resumed\s+operator\s+3\s*$/);
    assert.match(lines[4], /orders-db\s+paused\s+ops\s+0\s+orders connector upgrade until 06:00$/);
  });

  it('refuses what cannot be paused, and says so: unknown or manual systems, a bad reason, a key without the scope, no key', async () => {
    const unknown = await ops()('POST', '/systems/no-such-system/pause', { reason: 'maintenance' });
    assert.equal(unknown.status, 404, unknown.text);
    assert.match(unknown.json.detail, /not in the catalog/);
    for (const verb of ['pause', 'resume']) {
      const manual = await ops()('POST', `/systems/legacy-billing/${verb}`, verb === 'pause' ? { reason: 'maintenance' } : {});
      assert.equal(manual.status, 400, manual.text);
      assert.match(manual.json.detail, /confirmed by its owner/);
    }
    for (const body of [{}, { reason: 'ab' }, { reason: '   a    ' }, { reason: 'x'.repeat(201) }, { reason: 'maintenance', until: 'tomorrow' }]) {
      const bad = await ops()('POST', '/systems/newsletter-db/pause', body);
      assert.equal(bad.status, 400, `${JSON.stringify(body)}: ${bad.text}`);
    }
    assert.equal((await http(stack, keys.read)('POST', '/systems/newsletter-db/pause', { reason: 'maintenance' })).status, 403);
    assert.equal((await http(stack, keys.intake)('POST', '/systems/newsletter-db/resume', {})).status, 403);
    assert.equal((await http(stack)('POST', '/systems/newsletter-db/pause', { reason: 'maintenance' })).status, 401);
    assert.equal((await http(stack)('GET', '/systems')).status, 401);
    assert.equal((await http(stack)('GET', '/systems/pauses')).status, 401);
    assert.equal((await ops()('GET', '/systems')).status, 403, 'the pause scope alone does not read');
    // None of the refusals paused anything or reached the log.
    assert.equal((await admin()('GET', '/systems/pauses?system=newsletter-db')).json.entries.length, 0);
    assert.equal((await admin()('GET', '/systems')).json.systems.filter((s: { paused?: unknown }) => s.paused).length, 0);

    const first = await ops()('POST', '/systems/newsletter-db/pause', { reason: '  index rebuild  ' });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.pause.reason, 'index rebuild', 'the reason is kept trimmed');
    const again = await operator()('POST', '/systems/newsletter-db/pause', { reason: 'another reason' });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual({ changed: again.json.changed, notified: again.json.notified, pause: again.json.pause }, { changed: false, notified: 0, pause: first.json.pause }, 'the first pause stays in force');
    const resumed = await operator()('POST', '/systems/newsletter-db/resume', {});
    assert.equal(resumed.json.changed, true);
    const twice = await operator()('POST', '/systems/newsletter-db/resume', {});
    assert.equal(twice.status, 200, twice.text);
    assert.deepEqual(twice.json, { system: 'newsletter-db', paused: false, changed: false, notified: 0 });
    const log = (await admin()('GET', '/systems/pauses?system=newsletter-db')).json.entries;
    assert.deepEqual(
      log.map((e: { action: string; actor: string }) => [e.action, e.actor]),
      [
        ['resumed', 'operator'],
        ['paused', 'ops'],
      ],
      'a repeated pause or resume logs nothing',
    );
  });

  it('`erasure system` lists, pauses, resumes and shows the log, with exit 2 for refusals and 5 for an API that does not answer', async () => {
    const list = await cli(keys.read, 'list');
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^SYSTEM\s+KIND\s+MODE\s+STATE$/m);
    assert.match(list.out, /^orders-db\s+postgres\s+automated\s+running$/m);
    assert.match(list.out, /^legacy-billing\s+manual\s+confirmation\s+confirmed by its owner \(cannot be paused\)$/m);
    assert.match(list.out, /^3 systems, 0 paused$/m);

    const paused = await cli(opsKey, 'pause', 'newsletter-db', '--reason', 'mailing provider migration');
    assert.equal(paused.code, 0, paused.err);
    assert.match(paused.out, /^newsletter-db paused since .* UTC by "ops": mailing provider migration$/m);
    assert.match(paused.out, /^no running request was told \(none waited for it, or Temporal did not answer\); each waits at its next attempt$/m);
    assert.match((await cli(keys.read, 'list')).out, /^newsletter-db\s+postgres\s+automated\s+paused since .* by "ops": mailing provider migration$/m);
    const again = await cli(opsKey, 'pause', 'newsletter-db', '--reason', 'something else');
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /^newsletter-db was already paused since .* by "ops": mailing provider migration; nothing changed$/m);
    const json = JSON.parse((await cli(keys.read, 'list', '--json')).out);
    assert.equal(json.find((s: { id: string }) => s.id === 'newsletter-db').paused.reason, 'mailing provider migration');

    const resumed = await cli(opsKey, 'resume', 'newsletter-db');
    assert.equal(resumed.code, 0, resumed.err);
    assert.match(resumed.out, /^newsletter-db resumed/m);
    const notPaused = await cli(opsKey, 'resume', 'newsletter-db');
    assert.equal(notPaused.code, 0, notPaused.err);
    assert.match(notPaused.out, /^newsletter-db was not paused; nothing changed$/m);
    const log = await cli(keys.read, 'log');
    assert.equal(log.code, 0, log.err);
    assert.match(log.out.split('\n')[1], /newsletter-db\s+resumed\s+ops\s+0/);
    assert.match(log.out, /orders-db\s+paused\s+ops/, 'without a system: every system');
    assert.match((await cli(keys.read, 'log', 'legacy-billing')).out, /^legacy-billing was never paused$/m);

    const manual = await cli(opsKey, 'pause', 'legacy-billing', '--reason', 'maintenance');
    assert.equal(manual.code, 2);
    assert.match(manual.err, /^erasure system: 400: system "legacy-billing" is confirmed by its owner/);
    const unknown = await cli(opsKey, 'resume', 'no-such-system');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /404: system "no-such-system" is not in the catalog/);
    const short = await cli(opsKey, 'pause', 'orders-db', '--reason', 'x');
    assert.equal(short.code, 2);
    assert.match(short.err, /400: .*reason/);
    const readOnly = await cli(keys.read, 'pause', 'orders-db', '--reason', 'maintenance');
    assert.equal(readOnly.code, 2);
    assert.match(readOnly.err, /403: /);
    const keyless = captureIo({ ERASURE_API_URL: stack.api.url });
    const program = new Command('erasure').exitOverride();
    registerSystemCommands(program, keyless.io);
    await program.parseAsync(['node', 'erasure', 'system', 'list']);
    assert.equal(keyless.code(), 2);
    assert.match(keyless.err.join('\n'), /an API key is required: --api-key or ERASURE_API_KEY/);
    const away = await cli(opsKey, 'list', '--api-url', 'http://127.0.0.1:1');
    assert.equal(away.code, 5);
    assert.match(away.err, /cannot reach the API at http:\/\/127\.0\.0\.1:1/);
    assert.equal((await admin()('GET', '/systems')).json.systems.filter((s: { paused?: unknown }) => s.paused).length, 0, 'the refusals paused nothing');
  });

  it('a resume right after a refused attempt lets that request go on at once (the worker does not answer from a stale pause)', async () => {
    assert.equal((await ops()('POST', '/systems/orders-db/pause', { reason: 'short maintenance' })).status, 200);
    // A pause reaches the worker within the 2 s its cache keeps the table (the last test's activities read it).
    await new Promise((r) => setTimeout(r, 2500));
    const id = await submit(dan);
    // Its first attempt is refused: the worker has just read the pause, and keeps what it read for 2 s.
    await eventually(async () => (await eraseActivities(id)).failed.length === 1, 'the first attempt refused');
    const resumed = await ops()('POST', '/systems/orders-db/resume', {});
    assert.equal(resumed.json.notified, 1, resumed.text);
    // Told within a second, its lane erases again: a refusal from the pause read before would leave it waiting an hour.
    await eventually(async () => (await status(id))?.status === 'completed', 'completed after the resume', 30_000);
    assert.equal(await left(dan), 0);
    assert.deepEqual(await eraseActivities(id), { scheduled: 3, completed: 2, failed: ['SystemPausedError'], attempts: [1, 1, 1] });
  });
});
