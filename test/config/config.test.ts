/**
 * The configuration module: every variable validated in one place, named when wrong, never echoed, and
 * documented in .env.example, docs/configuration.md and the README exactly as the schema declares it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashApiKey, parseApiKeys } from '../../src/api/auth';
import { generateSigningKey, KeyError, loadSigningKey, signingKeyToPem } from '../../src/certificate/keys';
import { runLedgerCheck, ExitCode } from '../../src/cli/certificate';
import { runConfigCheck } from '../../src/cli/config';
import { loadMasterKey } from '../../src/codec/keys';
import { parseCatalog } from '../../src/catalog/load';
import { runCatalogCheck } from '../../src/cli/catalog';
import { ConfigError, loadCliConfig, loadConfig, loadLocalRunConfig, signingKeySource, variableNames, withheldFromCatalog } from '../../src/config';
import { configurationTable, describeVariables, generatedPart } from '../../src/config/doc';
import { captureIo } from '../harness/cli-io';

const root = path.resolve(__dirname, '..', '..');
const databaseUrl = 'postgres://erasure:erasure@127.0.0.1:5432/erasure_engine';
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-config-'));

/** The message a loader throws, asserting it is a ConfigError. */
function configProblem(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

/** What `${name}` resolves to in a catalog loaded as the engine loads it (its own secrets withheld). */
function resolved(name: string, env: Record<string, string>): string {
  const catalog = parseCatalog(`systems:\n  - id: billing\n    kind: manual\n    owner: "\${${name}}"\n`, 'c.yaml', env, { withheld: withheldFromCatalog });
  return (catalog.systems[0] as { owner: string }).owner;
}

describe('configuration (src/config)', () => {
  describe('loadConfig', () => {
    it('applies the documented defaults and keeps the environment for the catalog', () => {
      const env = { DATABASE_URL: databaseUrl, CUSTOMERS_DATABASE_URL: 'postgres://x@y/customers' };
      const config = loadConfig(env);
      assert.equal(config.TEMPORAL_ADDRESS, '127.0.0.1:7233');
      assert.equal(config.TEMPORAL_NAMESPACE, 'default');
      assert.equal(config.TASK_QUEUE, 'erasure');
      assert.equal(config.PORT, 3000);
      assert.equal(config.HOST, '127.0.0.1');
      assert.equal(config.ERASURE_CATALOG, 'catalog.yaml');
      assert.equal(config.LOG_LEVEL, 'info');
      assert.deepEqual(config.CODEC_CORS_ORIGINS, ['http://localhost:8233']);
      assert.equal(config.CODEC_PORT, undefined, 'no codec server unless configured');
      assert.equal(config.WORKER_MAX_CACHED_WORKFLOWS, undefined, 'the SDK sizes the cache from the heap');
      assert.equal(config.ERASURE_DATA_DIR, undefined);
      assert.equal(resolved('CUSTOMERS_DATABASE_URL', env), env.CUSTOMERS_DATABASE_URL, "the catalog's ${VAR}s read the environment given");
      assert.throws(() => resolved('DATABASE_URL', env), /one of the engine's own secrets/, "less the engine's own database");
    });

    it("withholds the engine's own keys and secrets from the catalog's ${VAR}s", () => {
      const secrets = {
        DATABASE_URL: databaseUrl,
        ENGINE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
        SIGNING_KEY_FILE: '/run/secrets/signing.pem',
        SUBJECT_HASH_SECRET: 'a-subject-secret-of-some-length',
        API_KEYS: `ops:operator:${'a'.repeat(64)}`,
      };
      const env = { CRM_SECRET: 'for-the-catalog', DEMO_HMAC_KEY: 'the-demo-catalog-key', ...secrets };
      assert.equal(resolved('CRM_SECRET', env), 'for-the-catalog');
      assert.equal(resolved('DEMO_HMAC_KEY', env), 'the-demo-catalog-key', 'the demo catalog reads it');
      for (const name of Object.keys(secrets)) assert.throws(() => resolved(name, env), /one of the engine's own secrets/, `${name} is withheld`);
      assert.deepEqual(
        [...withheldFromCatalog].sort(),
        ['API_KEYS', 'API_KEYS_FILE', 'CODEC_PATH_TOKEN', 'DATABASE_URL', 'ENGINE_MASTER_KEY', 'ENGINE_MASTER_KEY_FILE', 'SIGNING_KEY_FILE', 'SIGNING_KEY_PEM', 'SMTP_PASSWORD', 'SUBJECT_HASH_SECRET', 'TEMPORAL_API_KEY', 'TEMPORAL_TLS_KEY_FILE'],
      );
    });

    it('a catalog that references a withheld variable is refused with the reason, by the engine and by catalog check alike', async () => {
      const env = { DATABASE_URL: databaseUrl, ENGINE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };
      const catalog = 'systems:\n  - id: billing\n    kind: manual\n    owner: "${ENGINE_MASTER_KEY}"\n';
      assert.throws(
        () => parseCatalog(catalog, 'c.yaml', env, { withheld: withheldFromCatalog }),
        /c\.yaml:4:\d+ systems\[0\]\.owner: environment variable ENGINE_MASTER_KEY is one of the engine's own secrets, which a catalog cannot read/,
      );
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-config-'));
      try {
        const file = path.join(dir, 'catalog.yaml');
        fs.writeFileSync(file, catalog);
        const c = captureIo(env);
        assert.equal(await runCatalogCheck(file, { connect: false }, c.io), 1);
        assert.match(c.err.join('\n'), /ENGINE_MASTER_KEY is one of the engine's own secrets/);
        assert.doesNotMatch(c.err.join('\n') + c.out.join('\n'), new RegExp(env.ENGINE_MASTER_KEY.replace(/[+/=]/g, '.')));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('types what it validates: ports and sizes as numbers, the CORS origins as a list', () => {
      const config = loadConfig({
        DATABASE_URL: databaseUrl,
        PORT: '8080',
        CODEC_PORT: '0',
        WORKER_MAX_CACHED_WORKFLOWS: '250',
        CODEC_CORS_ORIGINS: 'http://localhost:8233/, https://ui.example.com:8443',
        ERASURE_DATA_DIR: '/var/lib/erasure',
      });
      assert.equal(config.PORT, 8080);
      assert.equal(config.CODEC_PORT, 0, 'port 0 (any free port) still starts the codec server');
      assert.equal(config.WORKER_MAX_CACHED_WORKFLOWS, 250);
      assert.deepEqual(config.CODEC_CORS_ORIGINS, ['http://localhost:8233', 'https://ui.example.com:8443']);
      assert.equal(config.ERASURE_DATA_DIR, '/var/lib/erasure');
    });

    it('fails on a missing DATABASE_URL with its name', () => {
      assert.match(configProblem(() => loadConfig({})), /DATABASE_URL: is required/);
    });

    it('lists every wrong variable at once, each by name', () => {
      const message = configProblem(() =>
        loadConfig({
          DATABASE_URL: 'mysql://db/x',
          TEMPORAL_ADDRESS: 'no-port',
          PORT: '70000',
          CODEC_PORT: 'eighty',
          CODEC_CORS_ORIGINS: 'http://localhost:8233,localhost:8233/ui',
          SUBJECT_HASH_SECRET: 'short',
          WORKER_MAX_CACHED_WORKFLOWS: '1',
          LOG_LEVEL: 'loud',
        }),
      );
      for (const [name, why] of [
        ['DATABASE_URL', /must be a postgres:\/\/ URL/],
        ['TEMPORAL_ADDRESS', /must be host:port/],
        ['PORT', /must be a port number/],
        ['CODEC_PORT', /must be a port number/],
        ['CODEC_CORS_ORIGINS', /entry 2 is not an origin/],
        ['SUBJECT_HASH_SECRET', /at least 16 characters/],
        ['WORKER_MAX_CACHED_WORKFLOWS', /must be at least 2/],
        ['LOG_LEVEL', /expected one of/],
      ] as const) {
        const line = message.split('\n').find((l) => l.trim().startsWith(`${name}:`));
        assert.ok(line, `${name} is named in:\n${message}`);
        assert.match(line, why);
      }
    });

    it('never repeats a value in its messages', () => {
      const marker = `s3cr3t-${randomBytes(6).toString('hex')}`;
      const env = Object.fromEntries(variableNames.map((name) => [name, `${marker}:${name}`]));
      const message = configProblem(() => loadConfig(env));
      assert.ok(!message.includes(marker), message);
      assert.match(message, /CODEC_PATH_TOKEN: must be at least 16 URL-safe characters/);
    });

    it('counts an empty value as unset (NAME= in env files), so the default applies', () => {
      const config = loadConfig({ DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: '', PORT: ' ', CODEC_PORT: '', WORKFLOW_BUNDLE: '' });
      assert.equal(config.TEMPORAL_ADDRESS, '127.0.0.1:7233');
      assert.equal(config.PORT, 3000);
      assert.equal(config.CODEC_PORT, undefined);
      assert.equal(config.WORKFLOW_BUNDLE, undefined);
      assert.match(configProblem(() => loadConfig({ DATABASE_URL: '' })), /DATABASE_URL: is required/);
    });
  });

  describe('secrets and their _FILE variants, as the engine loads them from the config', () => {
    it('the master key: inline or from ENGINE_MASTER_KEY_FILE', () => {
      const dir = tmp();
      const key = randomBytes(32);
      fs.writeFileSync(path.join(dir, 'master.key'), key.toString('base64'));
      const inline = loadMasterKey(loadConfig({ DATABASE_URL: databaseUrl, ENGINE_MASTER_KEY: key.toString('hex') }));
      const fromFile = loadMasterKey(loadConfig({ DATABASE_URL: databaseUrl, ENGINE_MASTER_KEY_FILE: path.join(dir, 'master.key') }));
      assert.equal(inline.source, 'ENGINE_MASTER_KEY');
      assert.match(fromFile.source, /^ENGINE_MASTER_KEY_FILE/);
      assert.ok(inline.key.export().equals(fromFile.key.export()));
      // An env file's `ENGINE_MASTER_KEY=` is no key at all, and the message says which variables to set.
      assert.throws(() => loadMasterKey(loadConfig({ DATABASE_URL: databaseUrl, ENGINE_MASTER_KEY: '' })), /no master key: set ENGINE_MASTER_KEY .* or ENGINE_MASTER_KEY_FILE/);
    });

    it('the signing key: SIGNING_KEY_PEM, SIGNING_KEY_FILE, or generated in ERASURE_DATA_DIR unless production', () => {
      const dir = tmp();
      const key = generateSigningKey();
      fs.writeFileSync(path.join(dir, 'key.pem'), signingKeyToPem(key));
      const fromConfig = (env: Record<string, string>) => {
        const c = loadConfig({ DATABASE_URL: databaseUrl, ...env });
        // The engine's own rule (openEngine and config check use signingKeySource too).
        return loadSigningKey(signingKeySource(c));
      };
      assert.equal(fromConfig({ SIGNING_KEY_PEM: signingKeyToPem(key) }).keyId, key.keyId);
      assert.equal(fromConfig({ SIGNING_KEY_FILE: path.join(dir, 'key.pem') }).keyId, key.keyId);
      const dataDir = path.join(dir, 'data');
      const generated = fromConfig({ ERASURE_DATA_DIR: dataDir });
      assert.equal(fromConfig({ ERASURE_DATA_DIR: dataDir }).keyId, generated.keyId, 'generated once, then reused');
      // Production never generates one (loadConfig itself already requires a key there: production-start.test.ts).
      const prod = { ...loadConfig({ DATABASE_URL: databaseUrl, ERASURE_DATA_DIR: path.join(dir, 'prod') }), NODE_ENV: 'production' };
      assert.throws(() => loadSigningKey(signingKeySource(prod)), (err: unknown) => err instanceof KeyError && /no certificate signing key/.test(err.message));
      assert.ok(!fs.existsSync(path.join(dir, 'prod')), 'production never generates a key');
      assert.throws(() => fromConfig({}), /ERASURE_DATA_DIR/);
    });

    it('the API keys: API_KEYS entries and API_KEYS_FILE together; a bad one named by where it is, never echoed', () => {
      const dir = tmp();
      const hash = hashApiKey('k1');
      const file = path.join(dir, 'keys.json');
      fs.writeFileSync(file, JSON.stringify([{ name: 'ops', hash: hashApiKey('k2'), scopes: ['operator'] }]));
      const keys = parseApiKeys(`intake:intake:${hash}; reader:read,operator:${hash}`, file);
      assert.deepEqual(
        keys.map((k) => [k.name, k.scopes.join(',')]),
        [
          ['ops', 'operator'],
          ['intake', 'intake'],
          ['reader', 'read,operator'],
        ],
      );
      const secretish = 'not-a-hash-but-a-secret-key-value';
      assert.throws(() => parseApiKeys(`a:read:${hash};b:read:${secretish}`), (err: Error) => /^API_KEYS entry 2: hash: must be a hex SHA-256/.test(err.message) && !err.message.includes(secretish));
      assert.throws(() => parseApiKeys(`a:admin:${hash}`), /API_KEYS entry 1: scopes\.0: /);
      assert.throws(() => parseApiKeys(undefined, path.join(dir, 'missing.json')), /API_KEYS_FILE \(.*missing\.json\) cannot be read: ENOENT/);
      fs.writeFileSync(path.join(dir, 'bad.json'), `{"hash": "${secretish}"`);
      assert.throws(() => parseApiKeys(undefined, path.join(dir, 'bad.json')), (err: Error) => /API_KEYS_FILE .* is not JSON/.test(err.message) && !err.message.includes(secretish));
      fs.writeFileSync(path.join(dir, 'object.json'), '{}');
      assert.throws(() => parseApiKeys(undefined, path.join(dir, 'object.json')), /must hold a JSON array/);
    });
  });

  describe('the local run and the command line', () => {
    it('npm start leaves unset what it fills in itself, and has its own defaults for its servers', () => {
      const local = loadLocalRunConfig({});
      assert.equal(local.LOCAL_PG_PORT, 5433);
      assert.equal(local.TEMPORAL_PORT, 7233);
      assert.equal(local.TEMPORAL_UI_PORT, 8233);
      assert.equal(local.PORT, 3000);
      assert.equal(local.CODEC_PORT, 8888);
      for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'ERASURE_CATALOG', 'SUBJECT_HASH_SECRET', 'ENGINE_MASTER_KEY', 'ERASURE_DATA_DIR', 'DEMO_DATABASE_URL'] as const) {
        assert.equal(local[name], undefined, `${name} stays unset for npm start to fill in`);
      }
      assert.match(configProblem(() => loadLocalRunConfig({ LOCAL_PG_PORT: 'pg' })), /LOCAL_PG_PORT: must be a port number/);
    });

    it('the CLI validates the variables it falls back on, and says which is wrong', async () => {
      assert.deepEqual(loadCliConfig({ ERASURE_JWKS: 'jwks.json', PORT: 'ignored' }), { ERASURE_JWKS: 'jwks.json' });
      const c = captureIo({ DATABASE_URL: 'not a url' });
      assert.equal(await runLedgerCheck({}, c.io), ExitCode.usage);
      assert.match(c.err[0], /DATABASE_URL: must be a postgres:\/\/ URL/);
    });

    it('erasure config check names every problem without printing a value, and passes a runnable environment', async () => {
      const secret = `${randomBytes(8).toString('hex')}-not-a-master-key`;
      const bad = captureIo({ DATABASE_URL: databaseUrl, ENGINE_MASTER_KEY: secret, PORT: 'x', NODE_ENV: 'production' });
      assert.equal(await runConfigCheck(bad.io), 1);
      assert.match(bad.err.join('\n'), /PORT: must be a port number/);
      // No data folder: the signing key cannot be generated (production's own rules: example-secrets.test.ts).
      const bad2 = captureIo({ DATABASE_URL: databaseUrl, ENGINE_MASTER_KEY: secret, API_KEYS: 'x:read:abc' });
      assert.equal(await runConfigCheck(bad2.io), 1);
      const problems = bad2.err.join('\n');
      assert.match(problems, /ENGINE_MASTER_KEY is not a valid master key/);
      assert.match(problems, /API_KEYS entry 1/);
      assert.match(problems, /no certificate signing key/);
      assert.ok(!problems.includes(secret) && !bad.err.join('\n').includes(secret));

      // The catalog is loaded as the worker would: a missing ${VAR} or file is a problem of the configuration.
      const catalogFile = path.join(tmp(), 'catalog.yaml');
      fs.writeFileSync(catalogFile, 'systems:\n  - id: crm\n    kind: webhook\n    url: ${CRM_URL}\n    secret: ${CRM_SECRET}\n');
      const runnable = { DATABASE_URL: databaseUrl, ENGINE_MASTER_KEY: randomBytes(32).toString('base64'), ERASURE_DATA_DIR: path.join(tmp(), 'data'), ERASURE_CATALOG: catalogFile };
      const noVars = captureIo(runnable);
      assert.equal(await runConfigCheck(noVars.io), 1);
      assert.match(noVars.err.join('\n'), /systems\[0\]\.url: environment variable CRM_URL is not set/);
      const good = captureIo({ ...runnable, CRM_URL: 'https://crm.example/erase', CRM_SECRET: 'a-webhook-secret-long-enough' });
      assert.equal(await runConfigCheck(good.io), 0, good.err.join('\n'));
      assert.match(good.out[0], /configuration valid: 4 of \d+ variables set \(DATABASE_URL, ERASURE_CATALOG, ENGINE_MASTER_KEY, ERASURE_DATA_DIR\)/);
      assert.ok(!good.out.join('').includes(databaseUrl), 'values are never printed');
    });
  });

  describe('documentation', () => {
    it('documents every variable of the schema', () => {
      const described = describeVariables();
      assert.deepEqual(
        described.map((v) => v.name),
        variableNames,
      );
      for (const v of described) {
        assert.ok(v.doc.length > 10, `${v.name} has a doc string`);
        assert.ok(v.default.length > 0 && v.readBy.length > 0, `${v.name} has a default and readers`);
      }
    });

    it('docs/configuration.md holds the table generated from the schema (npx erasure config doc --write docs/configuration.md)', () => {
      const doc = fs.readFileSync(path.join(root, 'docs', 'configuration.md'), 'utf8');
      assert.equal(generatedPart(doc), configurationTable().trim(), 'regenerate with: npx erasure config doc --write docs/configuration.md');
    });

    it('.env.example lists exactly the schema variables', () => {
      const listed = fs
        .readFileSync(path.join(root, '.env.example'), 'utf8')
        .split('\n')
        // `#:` lines are the example catalog's own variables, not the engine's.
        .map((line) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
        .filter((name): name is string => Boolean(name));
      assert.deepEqual([...listed].sort(), [...variableNames].sort());
    });

    it("the README's Configuration section names every variable, and no other", () => {
      const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
      const section = readme.slice(readme.indexOf('\n## Configuration\n'), readme.indexOf('\n## ', readme.indexOf('\n## Configuration\n') + 1));
      const named = new Set([...section.matchAll(/^\|.*$/gm)].flatMap((row) => [...row[0].split('|')[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1])));
      assert.deepEqual([...named].sort(), [...variableNames].sort());
    });

    it('no module outside src/config reads a variable by name', () => {
      const offenders: string[] = [];
      const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
          const file = path.join(dir, entry.name);
          if (entry.isDirectory()) {
            if (file !== path.join(root, 'src', 'config')) walk(file);
          } else if (/\.[jt]s$/.test(entry.name)) {
            fs.readFileSync(file, 'utf8')
              .split('\n')
              .forEach((line, i) => {
                // Comments may mention variables; code must take them from the validated config.
                if (/^\s*(\*|\/\/)/.test(line)) return;
                if (/\benv(\.|\[['"`])[A-Z][A-Z0-9_]*/.test(line)) offenders.push(`${path.relative(root, file)}:${i + 1}: ${line.trim()}`);
              });
          }
        }
      };
      walk(path.join(root, 'src'));
      walk(path.join(root, 'bin'));
      assert.deepEqual(offenders, []);
    });
  });
});
