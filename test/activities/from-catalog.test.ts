/**
 * The worker erases only what its own catalog declares: each activity looks the task's system up in the
 * worker's catalog, refuses a plan that disagrees with that entry (nothing reaches the connector), and hands
 * the connector the entry's own snapshot. A catalog and connectors of the test's own; no server here (the
 * same refusal on the real stack is in test/e2e/trust-boundary.test.ts).
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, logNotifier, type Connector } from '../../src/activities';
import { systemPlan } from '../../src/catalog/load';
import { catalogSchema, type Catalog } from '../../src/catalog/schema';
import { failureTypes, type SystemTask } from '../../src/domain';
import { createLogger } from '../../src/logger';
import { alice, failure, taskFor } from '../connectors/helpers';

const customersDb = {
  id: 'customers-db',
  kind: 'postgres',
  connection: 'postgres://worker:secret@db.internal/shop',
  tables: [
    { table: 'customers', match: { column: 'email', identifier: 'email' }, action: 'delete' },
    { table: 'orders', match: { column: 'customer_email', identifier: 'email' }, action: 'anonymize', columns: ['customer_email'] },
  ],
};
const catalogOf = (...systems: unknown[]): Catalog => catalogSchema.parse({ systems });
const catalog = catalogOf(customersDb, { id: 'billing', kind: 'manual', owner: 'billing-team' });
const entry = (c: Catalog, id: string) => c.systems.find((s) => s.id === id)!;

/** The activities over `workerCatalog`, with a postgres connector that records every task it is handed. */
function activitiesOver(workerCatalog: Catalog) {
  const handed: Array<[string, SystemTask]> = [];
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const fake: Connector = {
    erase: async (t) => (handed.push(['erase', t]), { action: 'delete', found: 1, erased: 1, evidenceHash: 'e'.repeat(64) }),
    verify: async (t) => (handed.push(['verify', t]), { remaining: 0 }),
    softDelete: async (t) => (handed.push(['softDelete', t]), { affected: 1 }),
    restore: async (t) => (handed.push(['restore', t]), { restored: 1 }),
    identify: async (t) => (handed.push(['identify', t]), {}),
  };
  const activities = createActivities({
    catalog: workerCatalog,
    connectors: { postgres: () => fake },
    notifier: logNotifier(logger),
    audit: { recordEvent: async () => undefined },
    certificates: { issue: async () => ({ certificateId: 'n/a' }) },
    logger,
  });
  const every = (task: SystemTask) => [
    () => activities.eraseSystem(task),
    () => activities.verifySystem(task),
    () => activities.softDeleteSystem(task),
    () => activities.restoreSystem(task),
    () => activities.identifySystem(task),
  ];
  return { activities, handed, lines, every };
}

/** Asserts the permanent refusal of a plan the catalog disagrees with, naming what differs and no value. */
function assertPlanMismatch(err: Error, differences: RegExp): void {
  assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${err.name}: ${err.message}`);
  assert.equal(err.type, failureTypes.planMismatch);
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, /^system "customers-db": the request's plan differs from this worker's catalog in /);
  assert.match(err.message, differences);
  assert.match(err.message, /nothing was changed/);
  assert.ok(!err.message.includes('alice'), 'no identifier in the message');
}

/** The customers-db task with its plan's tables replaced. */
function withTables(tables: unknown[]): SystemTask {
  const task = taskFor(entry(catalog, 'customers-db'), alice);
  return { ...task, system: { ...task.system, spec: { ...task.system.spec, tables } } };
}

describe('createActivities: the worker erases only what its catalog declares', () => {
  it('refuses, before any connector runs, a plan naming a table the catalog does not declare', async () => {
    const { handed, every } = activitiesOver(catalog);
    const declared = taskFor(entry(catalog, 'customers-db'), alice).system.spec.tables as unknown[];
    const forged = withTables([...declared, { table: 'payroll', match: { column: 'email', identifier: 'email' }, action: 'delete' }]);
    for (const run of every(forged)) assertPlanMismatch(await failure(run()), /in spec\.tables, so/);
    assert.deepEqual(handed, []);
  });

  it('refuses a plan that anonymizes another column of a declared table, or deletes what the catalog anonymizes', async () => {
    const { handed, activities } = activitiesOver(catalog);
    const declared = taskFor(entry(catalog, 'customers-db'), alice).system.spec.tables as Array<Record<string, unknown>>;
    const otherColumn = withTables([declared[0], { ...declared[1], columns: ['customer_email', 'shipping_address'] }]);
    const deleteInstead = withTables([declared[0], { ...declared[1], action: 'delete' }]);
    for (const task of [otherColumn, deleteInstead]) assertPlanMismatch(await failure(activities.eraseSystem(task)), /spec\.tables/);
    assert.deepEqual(handed, []);
  });

  it("hands the connector the catalog entry's own snapshot, never what else the task's spec carries", async () => {
    const { handed, activities } = activitiesOver(catalog);
    const honest = taskFor(entry(catalog, 'customers-db'), alice);
    // A spec from before the allow-list held more keys; none of them may reach the connector.
    const padded: SystemTask = { ...honest, system: { ...honest.system, spec: { ...honest.system.spec, connection: 'postgres://attacker@evil/db', schema: 'other' } } };
    await activities.eraseSystem(padded);
    // The erase, then the count it takes on the same connector: both get the catalog's snapshot.
    assert.deepEqual(handed.map(([op]) => op), ['erase', 'verify']);
    for (const [, t] of handed) {
      assert.deepEqual(t.system, systemPlan(entry(catalog, 'customers-db')));
      assert.deepEqual(t.subject, alice);
    }
  });

  it('accepts a plan made before a field gained its default, comparing it under today’s schema', async () => {
    const { handed, activities } = activitiesOver(catalog);
    const declared = taskFor(entry(catalog, 'customers-db'), alice).system.spec.tables as Array<Record<string, unknown>>;
    // What an older engine would have frozen: the tables as written, without the defaults filled in since.
    const older = withTables(declared.map(({ onShared: _o, batchSize: _b, primaryKey: _p, ...t }) => t));
    await activities.verifySystem(older);
    assert.deepEqual(handed.map(([op, t]) => [op, t.system.spec]), [['verify', systemPlan(entry(catalog, 'customers-db')).spec]]);
  });

  it('ends a request accepted under an earlier catalog entry with a clear reason when the entry changed what it erases', async () => {
    const accepted = catalogOf(customersDb);
    const edited = catalogOf({ ...customersDb, tables: [customersDb.tables[0]] });
    const { handed, activities } = activitiesOver(edited);
    const err = await failure(activities.eraseSystem(taskFor(entry(accepted, 'customers-db'), alice)));
    assertPlanMismatch(err, /edited after the request was accepted \(put the entry back and send retrySystem\)/);
    assert.deepEqual(handed, []);

    // An edit that changes nothing erased (a description, the connection, dependencies) lets it through.
    const harmless = catalogOf({ ...customersDb, description: 'the shop', connection: 'postgres://worker:rotated@db2.internal/shop' });
    const ok = activitiesOver(harmless);
    await ok.activities.eraseSystem(taskFor(entry(accepted, 'customers-db'), alice));
    assert.deepEqual(ok.handed.map(([op]) => op), ['erase', 'verify'], 'erased, then counted');
  });

  it('refuses a plan that changes the kind, the mode or the provided identifiers of a system, and one the catalog has no entry for', async () => {
    const { handed, activities } = activitiesOver(catalog);
    const honest = taskFor(entry(catalog, 'customers-db'), alice);
    const confirmed = { ...honest, system: { ...honest.system, mode: 'confirmation' as const } };
    assertPlanMismatch(await failure(activities.eraseSystem(confirmed)), /in mode, so/);
    const asS3 = { ...honest, system: { ...honest.system, kind: 's3' as const } };
    assertPlanMismatch(await failure(activities.eraseSystem(asS3)), /in kind, so/);
    // Identifier names it does not provide: what a provider finds reaches every later task.
    const providing = { ...honest, system: { ...honest.system, provides: ['userId'] } };
    assertPlanMismatch(await failure(activities.identifySystem(providing)), /in provides, so/);

    const unknown = { ...honest, system: { ...honest.system, id: 'hr-db' } };
    const err = await failure(activities.eraseSystem(unknown));
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, failureTypes.configuration);
    assert.match(err.message, /system "hr-db" is not in the worker's catalog/);
    assert.deepEqual(handed, []);
  });

  it("asks a manual system's owner as the catalog names it, and refuses a plan that names another", async () => {
    const { activities, lines } = activitiesOver(catalog);
    const honest = taskFor(entry(catalog, 'billing'), alice, 'req-owner');
    const redirected = { ...honest, system: { ...honest.system, spec: { owner: 'someone-else' } } };
    const err = await failure(activities.notifySystem(redirected));
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, failureTypes.planMismatch);
    assert.match(err.message, /^system "billing": .* in spec\.owner, so nothing was changed/);
    await activities.notifySystem(honest);
    assert.deepEqual(lines.filter((l) => l.msg === 'manual erasure requested').map((l) => l.owner), ['billing-team']);
  });
});
