/**
 * Plan snapshots travel in workflow history: they must hold what to erase and nothing that connects to a
 * system. These tests hold every kind in the registry to that, and the descriptors' shared `check` to its
 * time limit, without any server.
 */
import assert from 'node:assert/strict';
import { z } from 'zod';
import { systemSchema } from '../../src/catalog/schema';
import { checkThrough, defineSystem, snapshot } from '../../src/systems/descriptor';
import { systemDescriptors, systemKinds, systemPlan, type SystemKind } from '../../src/systems/registry';

/** A value that appears nowhere but in the one field it fills. */
const marker = (kind: string, field: string) => `SeCrEt-${kind}-${field}-0123456789`;

/** One valid entry per kind, every secret field filled with its marker (inside a valid format where one is required). */
const entries: Record<SystemKind, Record<string, unknown>> = {
  postgres: {
    id: 'db', kind: 'postgres',
    connection: `postgres://erasure:${marker('postgres', 'connection')}@db.internal/shop`,
    hmacKey: marker('postgres', 'hmacKey'),
    tables: [{ table: 'invoices', match: { column: 'email', identifier: 'email' }, action: 'anonymize', columns: [{ column: 'email', mask: { strategy: 'hmac' } }], softDeleteColumn: 'deleted_at' }],
  },
  s3: {
    id: 'docs', kind: 's3', bucket: 'docs', prefixes: ['users/{userId}/'], endpoint: 'http://minio.internal:9000',
    accessKeyId: marker('s3', 'accessKeyId'), secretAccessKey: marker('s3', 'secretAccessKey'), sessionToken: marker('s3', 'sessionToken'),
  },
  elasticsearch: {
    id: 'search', kind: 'elasticsearch', index: 'documents', match: { field: 'user_id', identifier: 'userId' },
    node: `http://elastic:${marker('elasticsearch', 'node')}@search.internal:9200`,
    username: marker('elasticsearch', 'username'), password: marker('elasticsearch', 'password'), apiKey: marker('elasticsearch', 'apiKey'),
  },
  webhook: {
    id: 'crm', kind: 'webhook', confirmation: 'signal', reminderEvery: '2d',
    url: `https://hooks.example/erase/${marker('webhook', 'url')}`, secret: marker('webhook', 'secret'),
  },
  manual: { id: 'billing', kind: 'manual', owner: 'billing-team', instructions: 'Purge the ledger, then confirm.' },
};

const shapeOf = (kind: SystemKind): string[] => Object.keys((systemDescriptors[kind].schema as unknown as z.ZodObject).shape);

describe('plan snapshots', () => {
  it('has a fully filled entry here for every kind in the registry', () => {
    assert.deepEqual(Object.keys(entries).sort(), [...systemKinds].sort());
    for (const kind of systemKinds) {
      for (const field of systemDescriptors[kind].secrets) assert.ok(entries[kind][field] !== undefined, `${kind}.${field} is filled`);
    }
  });

  for (const kind of systemKinds) {
    it(`keeps every ${kind} secret out of the plan`, () => {
      const plan = systemPlan(systemSchema.parse(entries[kind]));
      const text = JSON.stringify(plan);
      for (const field of systemDescriptors[kind].secrets) {
        assert.ok(!text.includes(marker(kind, field)), `the plan leaks ${kind}.${field}`);
        assert.ok(!(field in plan.spec), `the plan names ${kind}.${field}`);
      }
    });

    it(`keeps only the allow-listed ${kind} fields, and allow-lists only fields its schema has`, () => {
      const descriptor = systemDescriptors[kind];
      const plan = systemPlan(systemSchema.parse(entries[kind]));
      const allowed: readonly string[] = descriptor.planFields;
      assert.deepEqual(Object.keys(plan.spec).filter((k) => !allowed.includes(k)), []);
      const shape = shapeOf(kind);
      assert.deepEqual([...allowed, ...descriptor.secrets].filter((f) => !shape.includes(f)), [], 'a misspelt field name');
    });

    it(`leaves a field newly added to the ${kind} schema out of the plan until planFields names it`, () => {
      const descriptor = systemDescriptors[kind];
      const grown = (descriptor.schema as unknown as z.ZodObject).safeExtend({ futureToken: z.string() });
      const value = marker(kind, 'futureToken');
      const entry = grown.parse({ ...entries[kind], futureToken: value }) as z.output<typeof descriptor.schema>;
      const plan = snapshot(descriptor as unknown as Parameters<typeof snapshot>[0], entry);
      assert.ok(!JSON.stringify(plan).includes(value), 'a new field entered the plan on its own');
      const named = snapshot({ ...descriptor, planFields: [...descriptor.planFields, 'futureToken'] } as unknown as Parameters<typeof snapshot>[0], entry);
      assert.equal(named.spec.futureToken, value, 'naming it in planFields is what lets it in');
    });
  }

  it('refuses a descriptor whose plan allow-list names one of its secrets', () => {
    const schema = z.object({ id: z.string(), kind: z.literal('vault'), dependsOn: z.array(z.string()).default([]), token: z.string() }).strict();
    assert.throws(
      () => defineSystem({
        kind: 'vault', schema, planFields: ['token'], secrets: ['token'],
        plan: () => ({ mode: 'automated', softDelete: false, notify: false }),
        check: async () => ({ status: 'skip', message: 'n/a' }),
      }),
      /system kind "vault": secret fields in planFields: token/,
    );
  });

  it('keeps a manual system\'s owner, and leaves its free-text instructions in the catalog', () => {
    const plan = systemPlan(systemSchema.parse(entries.manual));
    assert.deepEqual(plan.spec, { owner: 'billing-team' });
  });

  it('keeps the identifier names a system provides, once each, and no provides key when it provides none', () => {
    const traits = (provides?: string[]) => ({ planFields: [] as string[], plan: () => ({ mode: 'automated' as const, softDelete: false, notify: false, provides }) });
    const entry = { id: 'shop-db', kind: 'postgres', dependsOn: [] };
    assert.deepEqual(snapshot(traits(['userId', 'custom.loyalty', 'userId']), entry).provides, ['userId', 'custom.loyalty']);
    // Plans of systems that provide nothing stay exactly as recorded before `provides` existed (histories replay).
    assert.equal('provides' in snapshot(traits([]), entry), false);
    assert.equal('provides' in snapshot(traits(undefined), entry), false);
    for (const kind of systemKinds) {
      const plan = systemPlan(systemSchema.parse(entries[kind]));
      assert.ok(plan.provides === undefined || plan.provides.length > 0, `${kind}: an empty provides list`);
    }
  });

  it('takes mode, soft delete, notify and reminders from each kind', () => {
    const traits = systemKinds.map((kind) => {
      const { mode, softDelete, notify, reminderEveryDays } = systemPlan(systemSchema.parse(entries[kind]));
      return [kind, mode, softDelete, notify, reminderEveryDays];
    });
    assert.deepEqual(traits, [
      ['postgres', 'automated', true, false, undefined],
      ['s3', 'automated', false, false, undefined],
      ['elasticsearch', 'automated', false, false, undefined],
      ['webhook', 'confirmation', false, true, 2],
      ['manual', 'confirmation', false, true, undefined],
    ]);
  });
});

describe('checkThrough (the check of a kind with a connector)', () => {
  const never = () => new Promise<never>(() => undefined);
  const fake = (check: () => Promise<string>, close: () => Promise<void>) => ({
    erase: never, verify: never, check, close,
  });
  const system = { id: 'db', kind: 'postgres', dependsOn: [] };

  it('ends within the time limit when the system stops answering, even if closing the connector hangs too', async () => {
    const started = Date.now();
    const check = checkThrough(() => fake(never, never));
    await assert.rejects(check(system, { timeoutMs: 200 }), /^Error: system "db": no answer within 200 ms$/);
    const took = Date.now() - started;
    assert.ok(took < 1_000, `took ${took} ms`);
  });

  it('reports what the check found and closes the connector', async () => {
    let closed = false;
    const check = checkThrough(() => fake(async () => 'reachable', async () => void (closed = true)));
    assert.deepEqual(await check(system, { timeoutMs: 1_000 }), { status: 'ok', message: 'reachable' });
    assert.equal(closed, true);
  });

  it('does not wait past the limit for a close that hangs after a check that answered', async () => {
    const started = Date.now();
    const check = checkThrough(() => fake(async () => 'reachable', never));
    assert.deepEqual(await check(system, { timeoutMs: 200 }), { status: 'ok', message: 'reachable' });
    const took = Date.now() - started;
    assert.ok(took < 1_000, `took ${took} ms`);
  });
});
