/**
 * The PostgreSQL connector on a realistic shop schema (test/fixtures/shop): relations followed from the
 * customer found by e-mail to orders, order lines (composite key), cards, logins, sessions, tickets (the
 * same table twice), reviews, a text-typed legacy reference and addresses shared with other people. Every
 * row's outcome is checked against expected.ts, derived by hand: the subject's rows deleted or masked,
 * every other row byte-identical in PostgreSQL's text form. Then a worker killed (SIGKILL) right after the
 * customer rows went, and a fresh process that must still find the addresses they pointed at.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type pg from 'pg';
import { systemPlan } from '../../src/catalog/load';
import type { EraseResult, SubjectIdentifiers, SystemPreview, SystemTask } from '../../src/domain';
import type { CheckableConnector, Connector } from '../../src/systems/connector-kit';
import type { PostgresSystem } from '../../src/systems/postgres';
import { postgresConnector } from '../../src/systems/postgres/connector';
import {
  aliceErased, bobErased, catalogTargets, dumpShop, loadShop, receiptCounts, seedKeys, shopFixtureDir, shopSystem, stepProblems, subjects,
  type ErasureStep, type ShopDump, type ShopTable,
} from '../fixtures/shop';
import { freshDatabase, warmUp } from './servers';

warmUp('postgres');

const taskOf = (system: PostgresSystem, subject: SubjectIdentifiers, requestId: string): SystemTask => ({
  requestId,
  subject,
  subjectRef: `subj_${requestId}`,
  system: systemPlan(system),
});

/** A receipt's per-table counts under `prefix` (`rows` or `shared`), 0 where it has none. */
const countsOf = (r: EraseResult, prefix: 'rows' | 'shared') => Object.fromEntries(catalogTargets.map((t) => [t, r.details?.[`${prefix}:${t}`] ?? 0]));

const withZeros = (counts: Record<string, number>) => Object.fromEntries(catalogTargets.map((t) => [t, counts[t] ?? 0]));

/** What a preview must say before `step`: per catalog table, rows to delete, anonymize, keep as shared. */
function expectedPreview(step: ErasureStep): Record<string, { delete: number; anonymize: number; shared: number }> {
  return Object.fromEntries(
    catalogTargets.map((target) => {
      const out = step.tables[target.slice('public.'.length) as ShopTable];
      return [target, { delete: out.deleted.length, anonymize: out.anonymized.length, shared: out.shared.length }];
    }),
  );
}

/**
 * A preview's entries added up per table: the two ticket entries share one (a target may name its entry
 * after the table, `public.ticket (ticket_alt)`).
 */
function previewByTarget(p: SystemPreview): Record<string, { delete: number; anonymize: number; shared: number }> {
  const out: Record<string, { delete: number; anonymize: number; shared: number }> = {};
  for (const e of p.entries) {
    const sum = (out[e.target.replace(/ \([A-Za-z0-9_]+\)$/, '')] ??= { delete: 0, anonymize: 0, shared: 0 });
    sum.delete += e.delete;
    sum.anonymize += e.anonymize;
    sum.shared += e.shared;
  }
  return out;
}

/** The connector's preview (its absence fails the test, saying so). */
function previewOf(conn: Connector, task: SystemTask): Promise<SystemPreview> {
  assert.ok(conn.preview, 'the PostgreSQL connector has no preview()');
  return conn.preview(task);
}

/** The connector's identify, each identifier's values sorted. */
async function identifyOf(conn: Connector, task: SystemTask): Promise<Record<string, string[]>> {
  assert.ok(conn.identify, 'the PostgreSQL connector has no identify()');
  const found = await conn.identify(task);
  return Object.fromEntries(Object.entries(found).map(([k, v]) => [k, [...v].sort()]));
}


const workSchemaExists = async (db: pg.Client) =>
  (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'erasure_engine'")).rows[0].n > 0;

describe('PostgreSQL connector on a realistic shop schema (real server)', function () {
  let db: pg.Client;
  let system: PostgresSystem;
  let conn: CheckableConnector;
  let seed: ShopDump;
  const alice = (id = 'shop-alice') => taskOf(system, subjects.alice, id);
  const bob = (id = 'shop-bob') => taskOf(system, subjects.bob, id);

  before(async function () {
    let url: string;
    ({ client: db, url } = await freshDatabase('connector_pg_shop'));
    await loadShop(db);
    system = shopSystem(url);
    conn = postgresConnector(system);
    seed = await dumpShop(db);
  });
  after(async () => {
    await conn?.close();
    await db?.end();
  });

  it('the seed holds exactly the rows expected.ts accounts for', () => {
    const keys = Object.fromEntries(Object.entries(seed).map(([t, rows]) => [t, [...rows.keys()].sort()]));
    assert.deepEqual(keys, Object.fromEntries(Object.entries(seedKeys).map(([t, k]) => [t, [...k].sort()])));
  });

  it('check() accepts the catalog: every table and column exists, every key (composite too) is unique', async () => {
    assert.equal(typeof (await conn.check()), 'string');
  });

  it('preview and identify tell what an erase of alice would do, and change nothing (not even the work schema)', async () => {
    const preview = await previewOf(conn, alice('shop-alice-preview'));
    assert.deepEqual(previewByTarget(preview), expectedPreview(aliceErased));
    assert.deepEqual(preview.derived, { userId: aliceErased.userIds.length });
    assert.deepEqual(await identifyOf(conn, alice()), { userId: aliceErased.userIds });
    assert.deepEqual(await identifyOf(conn, bob()), { userId: bobErased.userIds }, 'customer 42, not 420');
    assert.deepEqual(await identifyOf(conn, taskOf(system, subjects.carol, 'shop-carol')), { userId: ['50'] });
    assert.deepEqual(stepProblems(seed, await dumpShop(db), { ...aliceErased, tables: unchangedTables(seed) }), []);
    assert.equal(await workSchemaExists(db), false, 'preview and identify created the work schema');
  });

  it('erasing alice changes exactly her rows: customers 17 and 18, their children, her one unshared address', async () => {
    const result = await conn.erase(alice());
    assert.deepEqual(stepProblems(seed, await dumpShop(db), aliceErased), []);
    assert.deepEqual(countsOf(result, 'rows'), withZeros(receiptCounts.alice.rows));
    assert.deepEqual(countsOf(result, 'shared'), withZeros(receiptCounts.alice.shared));
    assert.equal(result.erased, Object.values(receiptCounts.alice.rows).reduce((a, b) => a + b, 0));
    assertNoOtherTables(result);
    assert.deepEqual(await conn.verify(alice()), { remaining: 0 });
    assert.deepEqual(await conn.verify(alice('shop-alice-verify-fresh')), { remaining: 0 }, 'verified from scratch, by a request that never erased');
  });

  it('then bob: customer 42 only, and the address he shared with alice goes now that it is his alone', async () => {
    const before = await dumpShop(db);
    const preview = await previewOf(conn, bob('shop-bob-preview'));
    assert.deepEqual(previewByTarget(preview), expectedPreview(bobErased));
    assert.deepEqual(stepProblems(before, await dumpShop(db), { ...bobErased, tables: unchangedTables(before) }), [], 'preview changed nothing');
    assert.deepEqual(await identifyOf(conn, bob()), { userId: bobErased.userIds });

    const result = await conn.erase(bob());
    assert.deepEqual(stepProblems(before, await dumpShop(db), bobErased), []);
    assert.deepEqual(countsOf(result, 'rows'), withZeros(receiptCounts.bob.rows));
    assert.deepEqual(countsOf(result, 'shared'), withZeros(receiptCounts.bob.shared));
    assertNoOtherTables(result);
    assert.deepEqual(await conn.verify(bob()), { remaining: 0 });
    assert.deepEqual(await conn.verify(alice('shop-alice-verify-late')), { remaining: 0 });
  });

  it('erasing alice again (the same request, and a new one) erases nothing and changes nothing', async () => {
    const before = await dumpShop(db);
    for (const task of [alice(), alice('shop-alice-again')]) {
      const result = await conn.erase(task);
      assert.equal(result.erased, 0, `request ${task.requestId}`);
      assert.deepEqual(countsOf(result, 'rows'), withZeros({}));
    }
    assert.deepEqual(countsOf(await conn.erase(alice('shop-alice-third')), 'shared'), withZeros({}), 'nothing of alice is reachable any more');
    assert.deepEqual(stepProblems(before, await dumpShop(db), { ...aliceErased, tables: unchangedTables(before) }), []);
  });

  it('carol, never erased, still has every row she had (customer 50, her order 42, her address, her tickets)', async () => {
    const now = await dumpShop(db);
    for (const [table, key] of [['customer', '50'], ['orders', '42'], ['address', '5'], ['ticket', '4'], ['ticket', '6'], ['session', '42'], ['payment_card', '17']] as const) {
      assert.ok(now[table].has(key), `${table} ${key}`);
    }
    assert.equal(now.ticket.get('6')!.columns.alt_email, '["alice@example.com","bob@example.com"]');
    assert.equal(now.employee.get('1')!.columns.email, 'alice@example.com');
  });
});

/** A step in which every row of `dump` stays as it is. */
function unchangedTables(dump: ShopDump): ErasureStep['tables'] {
  const tables = {} as ErasureStep['tables'];
  for (const [table, rows] of Object.entries(dump) as Array<[ShopTable, ShopDump[ShopTable]]>) {
    tables[table] = { deleted: [], anonymized: [], unchanged: [...rows.keys()], shared: [] };
  }
  return tables;
}

/** No receipt key names a table the catalog does not (product, employee, the work schema). */
function assertNoOtherTables(result: EraseResult): void {
  const tables = Object.keys(result.details ?? {}).filter((k) => /^(rows|shared):/.test(k)).map((k) => k.slice(k.indexOf(':') + 1));
  assert.deepEqual(tables.filter((t) => !catalogTargets.includes(t)), []);
}

/** Runs one erase in a child process (test/fixtures/shop/erase-child.ts); resolves with how it ended. */
function eraseInChild(env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(shopFixtureDir, 'erase-child.ts')], {
    cwd: path.resolve(__dirname, '..', '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('PostgreSQL shop erase killed (SIGKILL) right after the customer rows went (real server)', function () {
  let db: pg.Client;
  let url: string;
  let seed: ShopDump;

  before(async function () {
    ({ client: db, url } = await freshDatabase('connector_pg_shop_crash'));
    await loadShop(db);
    seed = await dumpShop(db);
  });
  after(async () => db?.end());

  it('a fresh process with the same task still erases the addresses and everything else, and nothing more', async function () {
    const env = { SHOP_DATABASE_URL: url, SHOP_REQUEST_ID: 'shop-crash-1', SHOP_SUBJECT: JSON.stringify(subjects.alice) };
    const killed = await eraseInChild({ ...env, SHOP_KILL_AFTER: 'public.customer' });
    assert.equal(killed.signal, 'SIGKILL', `the first process should have killed itself after the customer batch; it exited ${killed.code}:\n${killed.stdout}${killed.stderr}`);

    // Between the two: the customer rows are gone, the address only they led to is not (yet).
    const mid = await dumpShop(db);
    assert.deepEqual(['17', '18'].filter((k) => mid.customer.has(k)), [], 'customers 17 and 18 were deleted before the kill');
    assert.ok(mid.address.has('2'), 'address 2 was still there when the process died (the kill fell between the two)');

    const resumed = await eraseInChild(env);
    assert.equal(resumed.code, 0, `the second process failed:\n${resumed.stdout}${resumed.stderr}`);
    assert.deepEqual(stepProblems(seed, await dumpShop(db), aliceErased), []);

    const system = shopSystem(url);
    const conn = postgresConnector(system);
    try {
      assert.deepEqual(await conn.verify(taskOf(system, subjects.alice, 'shop-crash-1')), { remaining: 0 });
      assert.equal((await conn.erase(taskOf(system, subjects.alice, 'shop-crash-1'))).erased, 0, 'a third attempt has nothing left');
    } finally {
      await conn.close();
    }
  });
});
