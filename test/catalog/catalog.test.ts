import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CatalogError, buildPlan, loadCatalog, parseCatalog, systemPlan } from '../../src/catalog/load';
import { runCatalogCheck } from '../../src/cli/catalog';
import { defaultPolicies } from '../../src/domain';
import { elasticsearch, esClientFor, freshDatabase, minio, s3ClientFor, warmUp } from '../connectors/servers';
import { captureIo } from '../harness/cli-io';
import { serve, type Served } from '../harness/serve';

warmUp('postgres', 'minio', 'es7');

const root = path.resolve(__dirname, '..', '..');

/** The problems a catalog text produces, one string each. */
function problems(text: string, env: NodeJS.ProcessEnv = {}, file = 'catalog.yaml'): string[] {
  try {
    parseCatalog(text, file, env);
  } catch (err) {
    assert.ok(err instanceof CatalogError, String(err));
    return err.problems;
  }
  assert.fail('expected the catalog to be rejected');
}

const exampleEnv = {
  CUSTOMERS_DATABASE_URL: 'postgres://erasure:secret@db.internal:5432/shop',
  CUSTOMERS_HMAC_KEY: 'an-hmac-key-of-some-length',
  SHOP_DATABASE_URL: 'postgres://erasure:shop-secret@shop.internal:5432/shop',
  S3_ENDPOINT: 'http://127.0.0.1:9000',
  S3_ACCESS_KEY_ID: 'access',
  S3_SECRET_ACCESS_KEY: 'secret-access',
  SEARCH_URL: 'http://127.0.0.1:9200',
  SEARCH_USERNAME: 'search-user',
  SEARCH_PASSWORD: 'search-password',
  CRM_WEBHOOK_SECRET: 'crm-webhook-secret-123',
};

describe('systems catalog', () => {
  it('the documented example is valid, with ${ENV} secrets filled in', () => {
    const catalog = loadCatalog(path.join(root, 'examples', 'catalog.yaml'), exampleEnv);
    assert.deepEqual(catalog.systems.map((s) => `${s.id}:${s.kind}`), ['customers-db:postgres', 'shop-db:postgres', 'documents:s3', 'search:elasticsearch', 'crm:webhook', 'legacy-billing:manual']);
    const db = catalog.systems[0];
    assert.equal(db.kind === 'postgres' && db.connection, exampleEnv.CUSTOMERS_DATABASE_URL);
  });

  it('plans keep what to erase and drop every secret', () => {
    const catalog = loadCatalog(path.join(root, 'examples', 'catalog.yaml'), exampleEnv);
    const plan = buildPlan(catalog, defaultPolicies.GDPR);
    const text = JSON.stringify(plan);
    // Connection URLs included: S3 endpoints and Elasticsearch nodes stay in the worker too.
    for (const secret of Object.values(exampleEnv)) assert.ok(!text.includes(secret), `plan leaks ${secret}`);
    const db = systemPlan(catalog.systems[0]);
    assert.equal(db.softDelete, true);
    assert.equal((db.spec.tables as unknown[]).length, 4);
    assert.equal(systemPlan(catalog.systems.find((s) => s.id === 'crm')!).mode, 'confirmation');
  });

  it('points at each mistake: unknown kind, missing table name, bad URLs — with file, line and path', () => {
    const text = [
      'systems:',
      '  - id: customers-db',
      '    kind: postgres',
      '    connection: mysql://db/shop',
      '    tables:',
      '      - match: { column: email, identifier: email }',
      '        action: delete',
      '  - id: search',
      '    kind: elastic',
      '    index: docs',
      '  - id: crm',
      '    kind: webhook',
      '    url: not a url',
      '    secret: 0123456789abcdef',
    ].join('\n');
    assert.deepEqual(problems(text, {}, 'bad.yaml'), [
      'bad.yaml:4:17 systems[0].connection: must be a postgres:// or postgresql:// URL',
      'bad.yaml:6:9 systems[0].tables[0].table: is required',
      'bad.yaml:9:11 systems[1].kind: unknown kind (expected postgres, s3, elasticsearch, webhook, manual)',
      'bad.yaml:13:10 systems[2].url: must be an http:// or https:// URL',
    ]);
  });

  it('names environment variables that are not set, and rejects invalid YAML', () => {
    assert.deepEqual(problems('systems:\n  - { id: crm, kind: webhook, url: "${CRM_URL}", secret: "${CRM_SECRET}" }\n'), [
      'catalog.yaml:2:36 systems[0].url: environment variable CRM_URL is not set',
      'catalog.yaml:2:58 systems[0].secret: environment variable CRM_SECRET is not set',
    ]);
    const [yamlProblem] = problems('systems: [\n  - id: x\n');
    assert.match(yamlProblem, /^catalog\.yaml:\d+:\d+: not valid YAML/);
  });

  it('rejects misspelt keys instead of silently ignoring them', () => {
    const p = problems('systems:\n  - id: docs\n    kind: s3\n    bucket: docs\n    prefixs: ["users/{userId}/"]\n');
    assert.ok(p.includes('catalog.yaml:5:14 systems[0].prefixs: unknown key'), p.join('\n'));
    assert.ok(p.some((l) => l.endsWith('systems[0].prefixes: needs at least one prefix or key')));
  });

  it('refuses S3 templates that could match other subjects', () => {
    const p = problems('systems:\n  - id: docs\n    kind: s3\n    bucket: docs\n    prefixes: ["users/{userId}", "shared/", "x/{name}/"]\n');
    assert.deepEqual(p.map((l) => l.replace(/^catalog\.yaml:\d+:\d+ /, '')), [
      'systems[0].prefixes[0]: placeholder {userId} must be followed directly by "/": otherwise another subject\'s id could start with this one\'s (ann-2 starts with ann)',
      'systems[0].prefixes[1]: needs an identifier placeholder such as {userId}: without one it would match every subject',
      'systems[0].prefixes[2]: unknown placeholder {name} (expected email, userId, phone or custom.<key>)',
    ]);
  });

  it('refuses S3 prefixes whose placeholders are not closed by "/", and keys whose placeholders run together', () => {
    const p = problems([
      'systems:',
      '  - id: docs',
      '    kind: s3',
      '    bucket: docs',
      '    prefixes: ["users/{userId}-", "users/{userId}_{phone}/", "exports/{userId}.zip", "t/{custom.tenant}/u/{userId}"]',
      '    keys: ["exports/{userId}-{phone}.zip"]',
    ].join('\n'));
    const why = 'must be followed directly by "/": otherwise another subject\'s id could start with this one\'s (ann-2 starts with ann)';
    assert.deepEqual(p.map((l) => l.replace(/^catalog\.yaml:\d+:\d+ /, '')), [
      `systems[0].prefixes[0]: placeholder {userId} ${why}`,
      `systems[0].prefixes[1]: placeholder {userId} ${why}`,
      `systems[0].prefixes[2]: placeholder {userId} ${why}`,
      `systems[0].prefixes[3]: placeholder {userId} ${why}`,
      'systems[0].keys[0]: placeholder {userId} must be followed directly by "/" when another placeholder comes after it: otherwise two subjects could expand to the same key (a-b with c, a with b-c)',
    ]);
  });

  it('accepts S3 prefixes closed by "/" and exact keys with one placeholder or placeholders split by "/"', () => {
    const catalog = parseCatalog([
      'systems:',
      '  - id: docs',
      '    kind: s3',
      '    bucket: docs',
      '    prefixes: ["users/{userId}/", "users/{userId}/files/", "t/{custom.tenant}/u/{userId}/", "mail-{email}/"]',
      '    keys: ["exports/{userId}.zip", "exports/{userId}/{phone}.zip", "{email}"]',
    ].join('\n'), 'catalog.yaml', {});
    const docs = catalog.systems[0] as { prefixes: string[]; keys: string[] };
    assert.equal(docs.prefixes.length, 4);
    assert.equal(docs.keys.length, 3);
  });

  it('refuses anonymization that would leave rows matching the subject, and hmac without a key', () => {
    const p = problems([
      'systems:',
      '  - id: db',
      '    kind: postgres',
      '    connection: postgres://localhost/x',
      '    tables:',
      '      - { table: invoices, match: { column: email, identifier: email }, action: anonymize, columns: [name] }',
      '      - { table: notes, match: { column: email, identifier: email }, action: anonymize, columns: [{ column: email, mask: { strategy: hmac } }] }',
      '      - { table: "drop table x", match: { column: email, identifier: email }, action: delete }',
    ].join('\n'));
    assert.deepEqual(p.map((l) => l.replace(/^catalog\.yaml:\d+:\d+ /, '')), [
      'systems[0].tables[0].columns: must include the match column "email" so anonymized rows stop matching the subject',
      'systems[0].tables[2].table: must be a plain SQL identifier (letters, digits, "_")',
      'systems[0].tables[1].columns[0].mask: the hmac mask needs hmacKey on the system',
    ]);
  });

  it('rejects duplicate ids and dependencies on unknown systems', () => {
    const p = problems('systems:\n  - { id: a, kind: manual, owner: x }\n  - { id: a, kind: manual, owner: y, dependsOn: [b] }\n');
    assert.deepEqual(p.map((l) => l.replace(/^catalog\.yaml:\d+:\d+ /, '')), ['systems[1].id: duplicate system id "a"', 'systems[1].dependsOn[0]: unknown system "b"']);
  });

  it('refuses a dependsOn cycle of two systems, naming it at the line of the first', () => {
    const p = problems([
      'systems:',
      '  - { id: a, kind: manual, owner: x, dependsOn: [b] }',
      '  - { id: b, kind: manual, owner: y, dependsOn: [a] }',
    ].join('\n'));
    assert.deepEqual(p, ['catalog.yaml:2:49 systems[0].dependsOn: dependsOn cycle: a → b → a']);
  });

  it('refuses a longer dependsOn cycle, named from the system listed first, among systems outside it', () => {
    const p = problems([
      'systems:',
      '  - { id: archive, kind: manual, owner: x }',
      '  - { id: search, kind: manual, owner: x, dependsOn: [db, archive] }',
      '  - { id: db, kind: manual, owner: x, dependsOn: [cache] }',
      '  - { id: cache, kind: manual, owner: x, dependsOn: [search] }',
    ].join('\n'));
    assert.deepEqual(p.map((l) => l.replace(/^catalog\.yaml:\d+:\d+ /, '')), ['systems[1].dependsOn: dependsOn cycle: search → db → cache → search']);
    assert.match(p[0], /^catalog\.yaml:3:\d+ /);
  });

  it('accepts a diamond of dependencies (two systems after one, one after both)', () => {
    const catalog = parseCatalog([
      'systems:',
      '  - { id: source, kind: manual, owner: x }',
      '  - { id: left, kind: manual, owner: x, dependsOn: [source] }',
      '  - { id: right, kind: manual, owner: x, dependsOn: [source] }',
      '  - { id: report, kind: manual, owner: x, dependsOn: [left, right] }',
    ].join('\n'), 'catalog.yaml', {});
    const plan = buildPlan(catalog, defaultPolicies.GDPR);
    assert.deepEqual(plan.systems.map((s) => [s.id, s.dependsOn]), [['source', []], ['left', ['source']], ['right', ['source']], ['report', ['left', 'right']]]);
  });

  describe('catalog check (real PostgreSQL, MinIO, Elasticsearch and an HTTP receiver)', function () {
    let file: string;
    let receiver: Served;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      const [{ url, client }, m, es] = await Promise.all([freshDatabase('catalog_check'), minio(), elasticsearch(7)]);
      await client.query('CREATE TABLE customers (id serial PRIMARY KEY, email text, deleted_at timestamptz)');
      await client.end();
      const s3 = s3ClientFor(m);
      await s3.send(new CreateBucketCommand({ Bucket: 'check-docs' })).catch(() => undefined);
      s3.destroy();
      const esClient = esClientFor(es);
      await esClient.indices.create({ index: 'check-docs', mappings: { properties: { user_id: { type: 'keyword' } } } });
      await esClient.close();
      receiver = await serve((_, res) => res.end());
      env = {
        DB_URL: url,
        S3_URL: m.endpoint,
        S3_KEY: m.accessKeyId,
        S3_SECRET: m.secretAccessKey,
        ES_URL: es.url,
        HOOK_URL: `${receiver.url}/erase`,
      };
      file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-check-')), 'catalog.yaml');
      fs.writeFileSync(file, [
        'systems:',
        '  - id: customers-db',
        '    kind: postgres',
        '    connection: ${DB_URL}',
        '    tables: [{ table: customers, match: { column: email, identifier: email }, action: delete, softDeleteColumn: deleted_at }]',
        '  - { id: documents, kind: s3, bucket: check-docs, endpoint: "${S3_URL}", accessKeyId: "${S3_KEY}", secretAccessKey: "${S3_SECRET}", prefixes: ["u/{userId}/"] }',
        '  - { id: archive, kind: s3, bucket: no-such-bucket, endpoint: "${S3_URL}", accessKeyId: "${S3_KEY}", secretAccessKey: "${S3_SECRET}", prefixes: ["u/{userId}/"] }',
        '  - { id: search, kind: elasticsearch, node: "${ES_URL}", index: check-docs, match: { field: user_id, identifier: userId } }',
        '  - { id: crm, kind: webhook, url: "${HOOK_URL}", secret: a-webhook-secret-0123 }',
        '  - { id: billing, kind: manual, owner: billing-team }',
      ].join('\n'));
    });
    after(() => receiver?.close());

    it('prints one line per system and fails when one cannot be used', async () => {
      const c = captureIo(env);
      const code = await runCatalogCheck(file, {}, c.io);
      assert.equal(code, 1);
      assert.equal(c.code(), 1);
      assert.equal(c.out[0], `${file}: valid, 6 systems, 0 consumers`);
      const lines = c.out.slice(1);
      assert.equal(lines.length, 6);
      assert.match(lines[0], /^ok {2}\s*customers-db\s+postgres\s+1 table with every declared column \(\d+ ms\)$/);
      assert.match(lines[1], /^ok {2}\s*documents\s+s3\s+bucket "check-docs" reachable/);
      assert.match(lines[2], /^FAIL\s+archive\s+s3\s+system "archive": bucket "no-such-bucket" does not exist/);
      assert.match(lines[3], /^ok {2}\s*search\s+elasticsearch\s+index "check-docs" reachable \(0 documents\)/);
      assert.match(lines[4], /^ok {2}\s*crm\s+webhook\s+127\.0\.0\.1:\d+ accepts connections \(response mode\)/);
      assert.match(lines[5], /^skip\s+billing\s+manual\s+confirmed by a person \(owner billing-team\)$/);
      assert.deepEqual(c.err, ['1 of 6 systems failed the check']);
    });

    it('exits 1 listing every mistake, contacting nothing, when the file is invalid', async () => {
      const c = captureIo({});
      assert.equal(await runCatalogCheck(file, {}, c.io), 1);
      assert.equal(c.out.length, 0);
      assert.ok(c.err.some((l) => l.includes('systems[0].connection: environment variable DB_URL is not set')));
      assert.match(c.err.at(-1)!, /: 9 problems; nothing was contacted$/);
    });

    it('runs as `erasure catalog check <file>` from the command line', async () => {
      const run = promisify(execFile);
      const failed = await run(process.execPath, [path.join(root, 'bin', 'erasure.js'), 'catalog', 'check', file], { env: { ...process.env, ...env }, cwd: root })
        .then(() => assert.fail('expected exit code 1'))
        .catch((e: { code: number; stdout: string; stderr: string }) => e);
      assert.equal(failed.code, 1);
      const lines = failed.stdout.trim().split('\n');
      assert.equal(lines.length, 7, failed.stdout);
      assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['ok customers-db', 'ok documents', 'FAIL archive', 'ok search', 'ok crm', 'skip billing']);
      assert.match(failed.stderr, /1 of 6 systems failed the check/);
    });
  });
});
