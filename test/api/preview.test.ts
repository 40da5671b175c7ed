/**
 * The preview: the use case both edges call (with test connectors, to pin down the order of identify and
 * preview, the merging of derived identifiers and failures), and `POST /erasures/preview` served in-process.
 * The previews against real servers are in test/e2e/preview.test.ts.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp } from '../../src/api/app';
import { hashApiKey, parseApiKeys } from '../../src/api/auth';
import { openApiDocument } from '../../src/api/openapi';
import { routes } from '../../src/api/routes';
import { parseCatalog } from '../../src/catalog/load';
import type { Catalog } from '../../src/catalog/schema';
import type { DerivedIdentifiers, SystemPreview, SystemTask } from '../../src/domain';
import { createMetrics } from '../../src/metrics';
import type { Connector } from '../../src/systems/connector-kit';
import type { ConnectorFactory, SystemKind } from '../../src/systems/registry';
import { createUseCases, UseCaseError, type UseCaseDeps } from '../../src/use-cases';
import { previewErasure, type PreviewProgress } from '../../src/use-cases/preview';
import { capturingLogger } from '../harness/logs';
import { previewCatalogYaml } from '../fixtures/preview-catalog';

/** Three systems: a database that provides the user id, storage keyed by it, and a team that erases by hand. */
const catalogYaml = previewCatalogYaml('postgres://shop@127.0.0.1:1/shop');

interface Recorded {
  calls: string[];
  tasks: Array<{ system: string; step: string; derived?: DerivedIdentifiers; subject: unknown }>;
  closed: string[];
}

/**
 * Test connectors: `identify` answers `found` for systems that provide, `preview` answers `previews[id]`
 * (or throws it when it is an Error); every call is recorded.
 */
function testConnectors(found: DerivedIdentifiers, previews: Record<string, SystemPreview | Error>, rec: Recorded): Partial<Record<SystemKind, ConnectorFactory>> {
  const build: ConnectorFactory = (system) => {
    const c: Connector = {
      erase: () => Promise.reject(new Error('a preview never erases')),
      verify: () => Promise.reject(new Error('a preview never verifies')),
      identify: async (task: SystemTask) => {
        rec.calls.push(`identify ${system.id}`);
        rec.tasks.push({ system: system.id, step: 'identify', derived: task.derived, subject: task.subject });
        return found;
      },
      preview: async (task: SystemTask) => {
        rec.calls.push(`preview ${system.id}`);
        rec.tasks.push({ system: system.id, step: 'preview', derived: task.derived, subject: task.subject });
        const p = previews[system.id];
        if (p instanceof Error) throw p;
        return p ?? { entries: [] };
      },
      close: async () => {
        rec.closed.push(system.id);
      },
    };
    return c;
  };
  return { postgres: build, s3: build };
}

const newRecord = (): Recorded => ({ calls: [], tasks: [], closed: [] });
const shopPreview: SystemPreview = { entries: [{ target: 'public.customer', delete: 2, anonymize: 0, shared: 0 }, { target: 'public.address', delete: 1, anonymize: 0, shared: 1 }] };
const mediaPreview: SystemPreview = { entries: [{ target: 'media/users/{userId}/', delete: 7, anonymize: 0, shared: 0 }] };

describe('preview: the use case', () => {
  let catalog: Catalog;
  before(() => {
    catalog = parseCatalog(catalogYaml, 'catalog.yaml', {});
  });

  it('asks the providing systems first, then previews every system with the derived identifiers, changing nothing', async () => {
    const rec = newRecord();
    const report = await previewErasure(
      { catalog, connectors: testConnectors({ userId: ['17', '18', '17'] }, { 'shop-db': shopPreview, media: mediaPreview }, rec) },
      { email: ' Jane.Doe@Example.com ' },
    );
    assert.deepEqual(rec.calls.slice(0, 1), ['identify shop-db']);
    assert.deepEqual(rec.calls.slice(1).sort(), ['preview media', 'preview shop-db']);
    assert.ok(rec.tasks.every((t) => JSON.stringify(t.subject) === '{"email":"jane.doe@example.com"}'), 'the subject is normalised as the intake does');
    assert.deepEqual(rec.tasks.find((t) => t.step === 'identify')!.derived, {});
    for (const t of rec.tasks.filter((t) => t.step === 'preview')) assert.deepEqual(t.derived, { userId: ['17', '18'] }, t.system);
    assert.deepEqual(rec.closed.sort(), ['media', 'shop-db']);

    assert.equal(report.ok, true);
    const [shop, media, billing] = report.systems;
    assert.deepEqual({ ...shop, ms: 0 }, { id: 'shop-db', kind: 'postgres', status: 'previewed', entries: shopPreview.entries, derived: { userId: 2 }, ms: 0 });
    assert.equal(media.status, 'previewed');
    assert.deepEqual(media.derived, {});
    assert.equal(billing.status, 'not_counted');
    assert.match(billing.note!, /erased by a person/);
    assert.deepEqual(report.totals, { delete: 10, anonymize: 0, shared: 1, derived: { userId: 2 }, systems: 3, failed: 0 });
    assert.ok(!JSON.stringify(report).includes('"17"') && !JSON.stringify(report).includes('jane'), 'counts only, never a value');
  });

  it('derives nothing for an identifier the subject carries: its own value is the one used', async () => {
    const rec = newRecord();
    const report = await previewErasure({ catalog, connectors: testConnectors({ userId: ['17'] }, {}, rec) }, { email: 'jane@example.com', userId: 'u-1' });
    for (const t of rec.tasks.filter((t) => t.step === 'preview')) assert.deepEqual(t.derived, {});
    assert.deepEqual(report.systems[0].derived, {});
    assert.deepEqual(report.totals.derived, {});
  });

  it('keeps of what a provider found only the names it provides, normalised as a request would carry them', async () => {
    const rec = newRecord();
    const report = await previewErasure({ catalog, connectors: testConnectors({ userId: ['17', ' 17 ', ''], email: ['other@example.com'] }, {}, rec) }, { phone: '+44 20 7946 0958' });
    for (const t of rec.tasks.filter((t) => t.step === 'preview')) assert.deepEqual(t.derived, { userId: ['17'] }, t.system);
    assert.deepEqual(report.systems[0].derived, { userId: 1 });
    assert.match(report.systems[0].note!, /^1 of the values found are not valid identifiers/);
  });

  it('reports a failing system with its error, scrubbed of identifier values, while the others still report', async () => {
    const rec = newRecord();
    const leaky = new Error('system "media": connect ECONNREFUSED 127.0.0.1:1 while listing users/17/ for JANE@example.com');
    const report = await previewErasure({ catalog, connectors: testConnectors({ userId: ['17'] }, { 'shop-db': shopPreview, media: leaky }, rec) }, { email: 'jane@example.com' });
    assert.equal(report.ok, false);
    const media = report.systems.find((s) => s.id === 'media')!;
    assert.equal(media.status, 'failed');
    assert.equal(media.error, 'system "media": connect ECONNREFUSED 127.0.0.1:1 while listing users/[redacted]/ for [redacted]');
    assert.equal(report.systems[0].status, 'previewed');
    assert.equal(report.totals.failed, 1);
    assert.equal(report.totals.delete, 3);
    assert.deepEqual(rec.closed.sort(), ['media', 'shop-db'], 'every connector is closed, the failed one too');
  });

  it('skips the preview of a system whose identify failed, and ends a system that never answers at the time limit', async () => {
    const rec = newRecord();
    const connectors = testConnectors({}, { 'shop-db': shopPreview }, rec);
    const hanging: ConnectorFactory = (system) => ({ ...connectors.postgres!(system), identify: () => Promise.reject(new Error('password authentication failed')) });
    const stuck: ConnectorFactory = (system) => ({ ...connectors.s3!(system), preview: () => new Promise<SystemPreview>(() => undefined) });
    const progress: PreviewProgress[] = [];
    const report = await previewErasure({ catalog, connectors: { postgres: hanging, s3: stuck }, timeoutMs: 300, slowMs: 50, progress: (e) => progress.push(e) }, { email: 'jane@example.com' });
    assert.deepEqual(report.systems.map((s) => [s.id, s.status]), [['shop-db', 'failed'], ['media', 'failed'], ['legacy-billing', 'not_counted']]);
    assert.equal(report.systems[0].error, 'password authentication failed');
    assert.ok(!rec.calls.includes('preview shop-db'));
    assert.equal(report.systems[1].error, 'system "media": no answer within 300 ms');
    assert.deepEqual(progress.map((p) => `${p.system} ${p.step} ${p.state}`), ['media preview slow', 'media preview failed']);
  });

  it('notes a kind whose connector cannot preview, and fails a kind it has no connector for', async () => {
    const noPreview: ConnectorFactory = () => ({ erase: () => Promise.reject(new Error('no')), verify: () => Promise.reject(new Error('no')) });
    const report = await previewErasure({ catalog, connectors: { s3: noPreview } }, { email: 'jane@example.com' });
    assert.deepEqual(report.systems.map((s) => [s.id, s.status]), [['shop-db', 'failed'], ['media', 'not_counted'], ['legacy-billing', 'not_counted']]);
    assert.match(report.systems[0].error!, /no connector for kind "postgres"/);
    assert.match(report.systems[1].note!, /cannot preview/);
  });

  it('refuses identifiers the intake would refuse, without contacting anything', async () => {
    const rec = newRecord();
    for (const subject of [{}, { email: 'not-an-email' }, { phone: '123' }, { userId: 'u-1', extra: 'x' }]) {
      await assert.rejects(
        previewErasure({ catalog, connectors: testConnectors({}, {}, rec) }, subject),
        (err: unknown) => err instanceof UseCaseError && err.kind === 'invalid' && !err.message.includes('not-an-email'),
      );
    }
    assert.deepEqual(rec.calls, []);
  });
});

describe('POST /erasures/preview', () => {
  const operatorKey = 'preview-operator-key-0123456789';
  const readKey = 'preview-read-key-0123456789';
  let server: Server;
  let url: string;
  const logs = capturingLogger();
  const rec = newRecord();

  before(async () => {
    const catalog = parseCatalog(catalogYaml, 'catalog.yaml', {});
    const deps = {
      intake: { catalog: () => catalog },
      logger: logs.logger,
      metrics: createMetrics(),
      connectors: testConnectors({ userId: ['17'] }, { 'shop-db': shopPreview, media: mediaPreview }, rec),
    } as unknown as UseCaseDeps; // the preview uses only these
    const apiKeys = parseApiKeys(`ops:operator:${hashApiKey(operatorKey)};reader:read,intake:${hashApiKey(readKey)}`);
    const app = createApp({ useCases: createUseCases(deps), apiKeys, logger: logs.logger, metrics: deps.metrics });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  const post = async (body: unknown, key = operatorKey) => {
    const res = await fetch(`${url}/erasures/preview`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as any };
  };

  it('answers 200 with the report for an operator key', async () => {
    const res = await post({ subject: { email: 'Jane.Doe@Example.com' } });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.ok, true);
    assert.deepEqual(res.json.systems.map((s: { id: string; status: string }) => `${s.id} ${s.status}`), ['shop-db previewed', 'media previewed', 'legacy-billing not_counted']);
    assert.deepEqual(res.json.totals, { delete: 10, anonymize: 0, shared: 1, derived: { userId: 1 }, systems: 3, failed: 0 });
  });

  it('answers 400 with one entry per field for bad input, echoing no value', async () => {
    const bad = await post({ subject: { email: 'not-an-email', phone: '12' } });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json.errors.map((e: { path: string }) => e.path).sort(), ['body.subject.email', 'body.subject.phone']);
    assert.ok(!JSON.stringify(bad.json).includes('not-an-email'));
    assert.equal((await post({ subject: {} })).status, 400);
    assert.equal((await post({ subject: { email: 'a@example.com' }, jurisdiction: 'GDPR' })).status, 400, 'the body is the subject only');
    assert.equal((await post('{"subject":')).status, 400);
  });

  it('needs a key with the operator scope', async () => {
    assert.equal((await post({ subject: { email: 'a@example.com' } }, '')).status, 401);
    const forbidden = await post({ subject: { email: 'a@example.com' } }, readKey);
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.json.detail, /lacks the "operator" scope/);
  });

  it('writes no identifier to the logs', () => {
    const text = logs.raw.join('\n').toLowerCase();
    for (const value of ['jane.doe@example.com', 'not-an-email', '"17"']) assert.ok(!text.includes(value), value);
    assert.ok(logs.lines.some((l) => l.route === '/erasures/preview'), 'the access log names the route only');
  });

  it('is in the OpenAPI document with its body, answer and scope', () => {
    const doc = openApiDocument(routes) as any;
    const op = doc.paths['/erasures/preview'].post;
    assert.deepEqual(op.security, [{ bearer: ['operator'] }, { apiKey: ['operator'] }]);
    assert.ok(op.requestBody.content['application/json'].schema.properties.subject);
    assert.deepEqual(Object.keys(op.responses).sort(), ['200', '400', '401', '403', '413', '415']);
    assert.ok(op.responses['200'].content['application/json'].schema.properties.totals);
  });
});
