/**
 * The preview against real servers: the shop fixture on PostgreSQL (the customer entry provides the user
 * id), MinIO keyed by that user id, and a manual system, through the CLI command and `POST /erasures/preview`.
 * Every count is checked against the fixture's hand-written expectations, and every row and object is
 * compared before and after: a preview changes nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { CreateBucketCommand, ListObjectVersionsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { createApp } from '../../src/api/app';
import { hashApiKey, parseApiKeys } from '../../src/api/auth';
import { loadCatalog } from '../../src/catalog/load';
import { runPreview, PreviewExit } from '../../src/cli/preview';
import { withheldFromCatalog } from '../../src/config';
import type { MinioServer } from '../../src/dev/servers';
import { createMetrics } from '../../src/metrics';
import { createUseCases, type PreviewReport, type UseCaseDeps } from '../../src/use-cases';
import { freshDatabase, minio, s3ClientFor, warmUp } from '../connectors/servers';
import { aliceErased, dumpShop, loadShop, receiptCounts, shopCatalogFile, type ShopDump } from '../fixtures/shop';
import { captureIo } from '../harness/cli-io';
import { capturingLogger } from '../harness/logs';

warmUp('minio', 'postgres');

const BUCKET = 'preview-media';

/** Alice's customers are 17 and 18; 170 and 42 (bob) are other people whose user ids look alike. */
const objects: Record<string, string[]> = {
  '17': ['users/17/avatar.png', 'users/17/docs/contract.pdf'],
  '18': ['users/18/avatar.png'],
  '170': ['users/170/avatar.png'],
  '42': ['users/42/avatar.png', 'users/42/cv.pdf'],
};

/** The shop's catalog with a media bucket keyed by the derived user id and a team erasing by hand. */
function catalogText(): string {
  const shop = fs.readFileSync(shopCatalogFile, 'utf8');
  return `${shop}
  - id: media
    kind: s3
    bucket: ${BUCKET}
    endpoint: \${MEDIA_ENDPOINT}
    accessKeyId: \${MEDIA_ACCESS_KEY}
    secretAccessKey: \${MEDIA_SECRET_KEY}
    prefixes: ['users/{userId}/']
  - id: legacy-billing
    kind: manual
    owner: billing-team
`;
}

/** Every version of every object in the bucket, with its ETag: a digest of the bucket. */
async function bucketDigest(s3: S3Client): Promise<string[]> {
  const res = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET }));
  return [...(res.Versions ?? []).map((v) => `${v.Key} ${v.VersionId} ${v.ETag}`), ...(res.DeleteMarkers ?? []).map((m) => `marker ${m.Key}`)].sort();
}

/** Rows changed (deleted or anonymized) and kept as shared per table, from the PostgreSQL system's entries. */
function perTable(report: PreviewReport, systemId: string): { rows: Record<string, number>; shared: Record<string, number> } {
  const rows: Record<string, number> = {};
  const shared: Record<string, number> = {};
  for (const e of report.systems.find((s) => s.id === systemId)!.entries) {
    const table = e.target.replace(/ \(.*\)$/, ''); // a named entry: "public.ticket (ticket_opened)"
    rows[table] = (rows[table] ?? 0) + e.delete + e.anonymize;
    if (e.shared) shared[table] = (shared[table] ?? 0) + e.shared;
  }
  return { rows, shared };
}

describe('preview on real servers (PostgreSQL shop, MinIO)', function () {
  let db: pg.Client;
  let s3: S3Client;
  let m: MinioServer;
  let dir: string;
  let catalogFile: string;
  let env: NodeJS.ProcessEnv;
  let shopBefore: ShopDump;
  let bucketBefore: string[];

  before(async function () {
    const fresh = await freshDatabase('preview_shop');
    db = fresh.client;
    await loadShop(db);
    m = await minio();
    s3 = s3ClientFor(m);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (const key of Object.values(objects).flat()) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `bytes of ${key}` }));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-preview-e2e-'));
    catalogFile = path.join(dir, 'catalog.yaml');
    fs.writeFileSync(catalogFile, catalogText());
    env = { SHOP_DATABASE_URL: fresh.url, MEDIA_ENDPOINT: m.endpoint, MEDIA_ACCESS_KEY: m.accessKeyId, MEDIA_SECRET_KEY: m.secretAccessKey };
    shopBefore = await dumpShop(db);
    bucketBefore = await bucketDigest(s3);
  });
  after(async () => {
    await db?.end();
    s3?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Nothing changed: every row of every shop table and every object version are as before. */
  async function assertUnchanged(): Promise<void> {
    const now = await dumpShop(db);
    for (const table of Object.keys(shopBefore) as Array<keyof ShopDump>) {
      assert.deepEqual([...now[table].entries()].sort(), [...shopBefore[table].entries()].sort(), `${table} changed`);
    }
    assert.deepEqual(await bucketDigest(s3), bucketBefore);
  }

  /** What the fixture says erasing alice does, as preview counts. */
  function assertAlice(report: PreviewReport): void {
    assert.equal(report.ok, true, JSON.stringify(report.systems.map((s) => s.error ?? s.note)));
    assert.deepEqual(perTable(report, 'shop-db'), receiptCounts.alice);
    const shop = report.systems.find((s) => s.id === 'shop-db')!;
    assert.deepEqual(shop.derived, { userId: aliceErased.userIds.length });
    const media = report.systems.find((s) => s.id === 'media')!;
    assert.equal(media.status, 'previewed', media.note);
    assert.equal(media.entries.reduce((n, e) => n + e.delete, 0), objects['17'].length + objects['18'].length, 'users/17/ and users/18/, not 170 nor 42');
    assert.equal(report.systems.find((s) => s.id === 'legacy-billing')!.status, 'not_counted');
    assert.deepEqual(report.totals.derived, { userId: 2 });
    const text = JSON.stringify(report);
    for (const value of ['alice@', '"17"', '"18"']) assert.ok(!text.includes(value), `no identifier in the report: ${value}`);
  }

  it('erasure preview: counts what erasing alice would do in every system, derives her user ids, and changes nothing', async () => {
    const c = captureIo(env);
    const code = await runPreview({ catalog: catalogFile, email: 'alice@example.com', json: true }, c.io);
    assert.equal(code, PreviewExit.ok, c.err.join('\n'));
    assertAlice(JSON.parse(c.out.join('\n')) as PreviewReport);
    await assertUnchanged();

    const table = captureIo(env);
    assert.equal(await runPreview({ catalog: catalogFile, email: 'alice@example.com' }, table.io), PreviewExit.ok);
    assert.match(table.out.join('\n'), /derived: userId 2/);
    assert.match(table.out.at(-1)!, /^total: \d+ to delete, \d+ to anonymize, 2 kept as shared; derived userId 2; 3 systems, 0 failed$/);
    assert.ok(!table.out.join('\n').includes('alice'));
    await assertUnchanged();
  });

  it('erasure preview: reports an unreachable system with its error and exit 1, while the others still report', async () => {
    const c = captureIo({ ...env, MEDIA_ENDPOINT: 'http://127.0.0.1:1' });
    const code = await runPreview({ catalog: catalogFile, email: 'alice@example.com', json: true, timeoutMs: 20_000 }, c.io);
    assert.equal(code, PreviewExit.systemFailed);
    const report = JSON.parse(c.out.join('\n')) as PreviewReport;
    const media = report.systems.find((s) => s.id === 'media')!;
    assert.equal(media.status, 'failed');
    assert.ok(media.error && !/alice|\b17\b|\b18\b/.test(media.error), media.error);
    assert.deepEqual(perTable(report, 'shop-db'), receiptCounts.alice);
    assert.match(c.err.at(-1)!, /^1 of 3 systems could not be previewed/);
    await assertUnchanged();
  });

  it('POST /erasures/preview: the same report from the API with its own catalog, nothing changed, nothing logged', async () => {
    const logs = capturingLogger();
    const catalog = loadCatalog(catalogFile, env, { withheld: withheldFromCatalog });
    const deps = { intake: { catalog: () => catalog }, logger: logs.logger, metrics: createMetrics() } as unknown as UseCaseDeps; // the preview uses only these
    const key = 'preview-e2e-operator-key-0123456789';
    const app = createApp({ useCases: createUseCases(deps), apiKeys: parseApiKeys(`ops:operator:${hashApiKey(key)}`), logger: logs.logger, metrics: deps.metrics });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/erasures/preview`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ subject: { email: 'Alice@Example.com' } }),
      });
      assert.equal(res.status, 200);
      assertAlice((await res.json()) as PreviewReport);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await assertUnchanged();
    assert.ok(!logs.raw.join('\n').toLowerCase().includes('alice'), 'no identifier in the logs');
  });
});
