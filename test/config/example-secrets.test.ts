/**
 * The example secrets the repository ships (src/config/secrets.ts): the list is complete (a scan of the
 * shipped files finds no secret-looking value missing from it), and `erasure config check` applies the
 * production rules, to the configuration and to the catalog's secrets, exactly as the processes do.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashApiKey } from '../../src/api/auth';
import { parseCatalog } from '../../src/catalog/load';
import { generateSigningKey, signingKeyToPem } from '../../src/certificate/keys';
import { runConfigCheck } from '../../src/cli/config';
import { catalogOptions, configSchema, exampleSecrets, isExampleSecret, loadConfig, productionSecretProblems } from '../../src/config';
import { captureIo } from '../harness/cli-io';

const root = path.resolve(__dirname, '..', '..');

/** Names under which a value is a secret: keys, tokens, passwords, secrets. */
const SECRET_NAME = /secret|passw(or)?d|pwd|token|hmac_?key|api_?keys?|master_?key|signing_?key|private_?key|access_?key/i;

/** The files the repository ships as examples to copy: README, .env.example, compose files, docker/, examples/, docs/. */
function shippedFiles(): string[] {
  const walk = (dir: string): string[] =>
    fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)])) : [];
  const top = fs.readdirSync(root).filter((f) => /^(README\.md|\.env\.example|(docker-)?compose[\w.-]*\.ya?ml)$/.test(f));
  return [...top.map((f) => path.join(root, f)), ...walk(path.join(root, 'docker')), ...walk(path.join(root, 'examples')), ...walk(path.join(root, 'docs'))];
}

/**
 * Secret-looking values in a text: `NAME=value` / `NAME: value` lines whose name says secret (also commented
 * out, as in .env.example), `${NAME:-default}` defaults of such names anywhere, and private-key PEM blocks.
 * References without a default, paths, commands and placeholders are not values.
 */
function secretLookingValues(text: string): { line: number; name: string; value: string }[] {
  const found: { line: number; name: string; value: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    for (const m of raw.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):?-([^}]*)\}/g)) {
      if (SECRET_NAME.test(m[1]) && m[2].trim()) found.push({ line: i + 1, name: m[1], value: m[2].trim() });
    }
    const m = /^\s*(?:#:?\s*|-\s+|export\s+)*([A-Za-z_][A-Za-z0-9_.]*)\s*[:=]\s*(.*)$/.exec(raw);
    if (!m || !SECRET_NAME.test(m[1])) return;
    let value = m[2].replace(/\s+#.*$/, '').trim();
    const quoted = /^(['"])(.*)\1$/.exec(value);
    // Unquoted words with spaces are prose (an error message quoted in the docs), not a value.
    if (quoted) value = quoted[2];
    else if (/\s/.test(value)) return;
    if (!value || value.includes('${') || /^(\/|\.\/|\$\(|<|\{|\[)/.test(value)) return;
    found.push({ line: i + 1, name: m[1], value });
  });
  for (const m of text.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g)) {
    found.push({ line: text.slice(0, m.index).split('\n').length, name: 'PEM', value: m[0] });
  }
  return found;
}

describe('example secrets (src/config/secrets.ts)', () => {
  it('lists every secret-looking value the shipped files hold (README, .env.example, compose, docker/, examples/, docs/)', () => {
    const files = shippedFiles();
    assert.ok(files.some((f) => f.endsWith('docker-compose.yml')) && files.some((f) => f.endsWith('.env.example')) && files.some((f) => f.endsWith('catalog.yaml')));
    const missing = files.flatMap((file) =>
      secretLookingValues(fs.readFileSync(file, 'utf8'))
        .filter((v) => !isExampleSecret(v.value))
        .map((v) => `${path.relative(root, file)}:${v.line} ${v.name} = ${v.value}`),
    );
    assert.deepEqual(missing, [], 'add these to exampleSecrets in src/config/secrets.ts (or stop shipping them)');
  });

  it('the scan finds the forms the shipped files use', () => {
    const pem = signingKeyToPem(generateSigningKey());
    const text = [
      'SUBJECT_HASH_SECRET=copy-me-and-regret-it',
      '#: CRM_WEBHOOK_SECRET="commented-but-shipped"',
      '  CODEC_PATH_TOKEN: ${CODEC_PATH_TOKEN:-compose-default-token}',
      '  TEMPORAL_CODEC_ENDPOINT: http://localhost:8888/${CODEC_PATH_TOKEN-inline-default}',
      '    secret: ${CRM_WEBHOOK_SECRET}           # a reference is not a value',
      '  API_KEYS: ${API_KEYS:?set API_KEYS}',
      '# ENGINE_MASTER_KEY_FILE=/run/secrets/engine-master-key',
      'ENGINE_MASTER_KEY=',
      'KEY=$(cat .data/api-key)',
      'Secret salt of subject references: at least 16 characters.',
      '  SIGNING_KEY_PEM: is required when NODE_ENV=production (or SIGNING_KEY_FILE)',
      pem,
    ].join('\n');
    assert.deepEqual(
      secretLookingValues(text).map((v) => v.value),
      ['copy-me-and-regret-it', 'commented-but-shipped', 'compose-default-token', 'inline-default', pem.trim()],
    );
  });

  it("includes the schema's development default of SUBJECT_HASH_SECRET, and ignores whitespace and a one-line PEM's \\n", () => {
    const dev = configSchema.shape.SUBJECT_HASH_SECRET.def.defaultValue;
    assert.ok(isExampleSecret(dev), 'the development default is an example secret');
    assert.ok(exampleSecrets.length >= 5);
    assert.ok(isExampleSecret(' change-me-codec-token\n'));
    assert.ok(!isExampleSecret(randomBytes(32).toString('hex')));
  });

  it('outside production nothing is required or refused: defaults and examples keep working', () => {
    assert.deepEqual(productionSecretProblems({ SUBJECT_HASH_SECRET: 'change-me-to-a-long-random-string' }), []);
    assert.deepEqual(productionSecretProblems({ NODE_ENV: 'test' }), []);
    const config = loadConfig({ DATABASE_URL: 'postgres://e@127.0.0.1/e', CODEC_PATH_TOKEN: 'change-me-codec-token' });
    assert.equal(config.SUBJECT_HASH_SECRET, 'dev-only-subject-hash-secret');
    const catalog = 'systems:\n  - id: crm\n    kind: webhook\n    url: https://crm.example/erase\n    secret: ${CRM_WEBHOOK_SECRET}\n';
    assert.doesNotThrow(() => parseCatalog(catalog, 'c.yaml', { CRM_WEBHOOK_SECRET: 'change-me-webhook-secret' }, catalogOptions(config)));
    assert.throws(
      () => parseCatalog(catalog, 'c.yaml', { CRM_WEBHOOK_SECRET: 'change-me-webhook-secret' }, catalogOptions({ NODE_ENV: 'production' })),
      /c\.yaml:5:\d+ systems\[0\]\.secret: environment variable CRM_WEBHOOK_SECRET holds an example value/,
    );
  });

  it('refuses a secret written into the catalog itself, and every kind of secret field (hmacKey, credentials)', () => {
    const catalog = [
      'systems:',
      '  - id: shop',
      '    kind: postgres',
      '    connection: postgres://shop@db/shop',
      '    hmacKey: at-least-16-characters-of-secret',
      '    tables: [{ table: customers, match: { column: email, identifier: email }, action: delete }]',
      '  - id: docs',
      '    kind: s3',
      '    bucket: docs',
      '    prefixes: ["users/{userId}/"]',
      '    accessKeyId: ${S3_ACCESS_KEY_ID}',
      '    secretAccessKey: ${S3_SECRET_ACCESS_KEY}',
    ].join('\n');
    const err = (() => {
      try {
        parseCatalog(catalog, 'c.yaml', { S3_ACCESS_KEY_ID: 'minioadmin', S3_SECRET_ACCESS_KEY: 'minioadmin' }, catalogOptions({ NODE_ENV: 'production' }));
      } catch (e) {
        return (e as Error).message;
      }
      assert.fail('expected the catalog to be refused');
    })();
    assert.match(err, /systems\[0\]\.hmacKey: holds an example value/);
    assert.match(err, /systems\[1\]\.accessKeyId: environment variable S3_ACCESS_KEY_ID holds an example value/);
    assert.match(err, /systems\[1\]\.secretAccessKey: environment variable S3_SECRET_ACCESS_KEY holds an example value/);
    assert.ok(!/minioadmin|at-least-16/.test(err), err);
  });

  describe('erasure config check with NODE_ENV=production', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-example-secrets-'));
    const catalogFile = path.join(dir, 'catalog.yaml');
    fs.writeFileSync(catalogFile, 'systems:\n  - id: crm\n    kind: webhook\n    url: https://crm.example/erase\n    secret: ${CRM_WEBHOOK_SECRET}\n');
    const fresh = () => ({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://erasure@127.0.0.1:5432/erasure_engine',
      ERASURE_CATALOG: catalogFile,
      SUBJECT_HASH_SECRET: randomBytes(32).toString('hex'),
      ENGINE_MASTER_KEY: randomBytes(32).toString('base64'),
      SIGNING_KEY_PEM: signingKeyToPem(generateSigningKey()),
      API_KEYS: `ops:operator:${hashApiKey(randomBytes(16).toString('hex'))}`,
      CRM_WEBHOOK_SECRET: randomBytes(32).toString('hex'),
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('passes fresh random secrets', async () => {
      const c = captureIo(fresh());
      assert.equal(await runConfigCheck(c.io), 0, c.err.join('\n'));
    });

    it('names a missing secret and an example one, the _FILE variants and API key hashes included, never a value', async () => {
      const masterFile = path.join(dir, 'master.key');
      fs.writeFileSync(masterFile, 'change-me-to-a-long-random-string');
      const keysFile = path.join(dir, 'keys.json');
      fs.writeFileSync(keysFile, JSON.stringify([{ name: 'ops', hash: hashApiKey('minioadmin'), scopes: ['read'] }]));
      const env = { ...fresh(), SUBJECT_HASH_SECRET: '', ENGINE_MASTER_KEY: undefined, ENGINE_MASTER_KEY_FILE: masterFile, API_KEYS_FILE: keysFile };
      const c = captureIo(env);
      assert.equal(await runConfigCheck(c.io), 1);
      const out = c.err.join('\n');
      assert.match(out, /SUBJECT_HASH_SECRET: is required when NODE_ENV=production; generate one with: openssl rand -hex 32/);
      assert.match(out, /ENGINE_MASTER_KEY_FILE: the file holds an example value/);
      assert.match(out, /API_KEYS_FILE: names the hash of an example key/);
      assert.ok(!out.includes('change-me') && !out.includes(env.SIGNING_KEY_PEM.split('\n')[1]), out);
    });

    it("names a catalog secret that is an example value by its ${VAR}, as the worker does", async () => {
      const c = captureIo({ ...fresh(), CRM_WEBHOOK_SECRET: 'at-least-16-characters-of-secret' });
      assert.equal(await runConfigCheck(c.io), 1);
      assert.match(c.err.join('\n'), /systems\[0\]\.secret: environment variable CRM_WEBHOOK_SECRET holds an example value/);
    });
  });
});
