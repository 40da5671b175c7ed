/** `erasure preview`: the table and the JSON, exit codes, bad input, progress lines (test connectors). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runPreview, PreviewExit } from '../../src/cli/preview';
import type { SystemPreview } from '../../src/domain';
import type { ConnectorFactory } from '../../src/systems/registry';
import { captureIo } from '../harness/cli-io';
import { previewCatalogYaml } from '../fixtures/preview-catalog';

const catalogYaml = previewCatalogYaml('${SHOP_DATABASE_URL}');

const shopPreview: SystemPreview = {
  entries: [
    { target: 'public.customer', delete: 1, anonymize: 0, shared: 0 },
    { target: 'public.orders', delete: 0, anonymize: 3, shared: 0 },
    { target: 'public.address', delete: 0, anonymize: 0, shared: 1 },
  ],
};

/** Connectors that answer as given; `media` fails when `mediaFails`, or answers after `mediaMs`. */
function connectors(opts: { mediaFails?: boolean; mediaMs?: number } = {}) {
  const seen: string[] = [];
  const base = (id: string) => ({
    erase: () => Promise.reject(new Error('a preview never erases')),
    verify: () => Promise.reject(new Error('a preview never verifies')),
    close: async () => undefined,
    identify: async () => ({ userId: ['41', '42'] }),
    preview: async (): Promise<SystemPreview> => {
      seen.push(id);
      if (id === 'shop-db') return shopPreview;
      await new Promise((r) => setTimeout(r, opts.mediaMs ?? 0));
      if (opts.mediaFails) throw new Error('system "media": connect ECONNREFUSED 127.0.0.1:1');
      return { entries: [{ target: 'media/users/{userId}/', delete: 4, anonymize: 0, shared: 0 }] };
    },
  });
  const factory: ConnectorFactory = (system) => base(system.id);
  return { factories: { postgres: factory, s3: factory }, seen };
}

describe('erasure preview', () => {
  let dir: string;
  let catalogFile: string;
  const env = { SHOP_DATABASE_URL: 'postgres://shop@127.0.0.1:1/shop' };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-preview-cli-'));
    catalogFile = path.join(dir, 'catalog.yaml');
    fs.writeFileSync(catalogFile, catalogYaml);
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints one block per system with delete / anonymize / shared per target, the derived counts and the totals; exit 0', async () => {
    const c = captureIo(env);
    const code = await runPreview({ catalog: catalogFile, email: 'jane@example.com', connectors: connectors().factories }, c.io);
    assert.equal(code, PreviewExit.ok);
    assert.equal(c.code(), 0);
    const text = c.out.join('\n');
    assert.match(c.out[0], /^ok {4}shop-db \(postgres\), \d+ ms$/);
    assert.match(text, /target +delete {2}anonymize {2}shared/);
    assert.match(text, /public\.orders +0 {10}3 {7}0/);
    assert.match(text, /derived: userId 2/);
    assert.match(text, /^-- {4}legacy-billing \(manual\): erased by a person/m);
    assert.equal(c.out.at(-1), 'total: 5 to delete, 3 to anonymize, 1 kept as shared; derived userId 2; 3 systems, 0 failed');
    assert.ok(!text.includes('jane') && !text.includes('41'), 'counts only');
    assert.deepEqual(c.err, []);
  });

  it('prints the report as JSON with --json', async () => {
    const c = captureIo(env);
    await runPreview({ catalog: catalogFile, userId: 'u-1', json: true, connectors: connectors().factories }, c.io);
    const report = JSON.parse(c.out.join('\n'));
    assert.equal(report.ok, true);
    assert.deepEqual(report.systems.map((s: { id: string }) => s.id), ['shop-db', 'media', 'legacy-billing']);
    assert.deepEqual(report.totals.derived, {}, 'the subject carries a user id: nothing derived');
  });

  it('exits 1 naming the system that failed, still reporting the others; slow systems get progress lines on stderr', async () => {
    const c = captureIo(env);
    const code = await runPreview({ catalog: catalogFile, email: 'jane@example.com', connectors: connectors({ mediaFails: true, mediaMs: 120 }).factories, slowMs: 40 }, c.io);
    assert.equal(code, PreviewExit.systemFailed);
    assert.equal(c.code(), 1);
    assert.ok(c.out.includes('FAIL  media (s3): system "media": connect ECONNREFUSED 127.0.0.1:1'), c.out.join('\n'));
    assert.match(c.out[0], /^ok {4}shop-db/);
    assert.deepEqual(c.err.slice(0, 2).map((l) => l.replace(/\d+\.\d s/, 'N s')), ['media: preview still running (N s)…', 'media: preview failed after N s']);
    assert.match(c.err.at(-1)!, /^1 of 3 systems could not be previewed/);
  });

  it('exits 2 for identifiers the intake refuses, a bad --custom, an unset ${VAR} or a missing file, contacting nothing', async () => {
    const { factories, seen } = connectors();
    const cases: Array<[Parameters<typeof runPreview>[0], NodeJS.ProcessEnv, RegExp]> = [
      [{ catalog: catalogFile }, env, /at least one identifier is required.*nothing was contacted/],
      [{ catalog: catalogFile, email: 'not-an-email' }, env, /^invalid subject: email: .*nothing was contacted$/],
      [{ catalog: catalogFile, phone: '12 34' }, env, /phone: must have at least 7 digits/],
      [{ catalog: catalogFile, custom: ['novalue'] }, env, /--custom takes key=value/],
      [{ catalog: catalogFile, email: 'a@example.com' }, {}, /environment variable SHOP_DATABASE_URL is not set/],
      [{ catalog: path.join(dir, 'missing.yaml'), email: 'a@example.com' }, env, /missing\.yaml: cannot read file: ENOENT/],
    ];
    for (const [opts, e, message] of cases) {
      const c = captureIo(e);
      assert.equal(await runPreview({ ...opts, connectors: factories }, c.io), PreviewExit.invalid, String(message));
      assert.match(c.err.join('\n'), message);
      assert.ok(!c.err.join('\n').includes('not-an-email'));
      assert.deepEqual(c.out, []);
    }
    assert.deepEqual(seen, []);
  });

  it('accepts custom identifiers as key=value', async () => {
    const c = captureIo(env);
    assert.equal(await runPreview({ catalog: catalogFile, custom: ['crmId=ab=c'], connectors: connectors().factories }, c.io), PreviewExit.ok);
  });

  it('is a command of the erasure program', async function () {
    this.timeout(60_000);
    const bin = path.join(__dirname, '..', '..', 'bin', 'erasure.js');
    const run = promisify(execFile);
    const help = await run(process.execPath, [bin, 'preview', '--help']);
    assert.match(help.stdout, /--catalog <file>/);
    assert.match(help.stdout, /--user-id <id>/);
    const bad = await run(process.execPath, [bin, 'preview', '--catalog', catalogFile, '--email', 'nope'], { env: { ...process.env, ...env } }).catch((e) => e);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid subject: email/);
  });
});
