/**
 * No default secrets in production: `npm run worker` and `npm run api` (src/worker.ts, src/api/main.ts) started
 * as real processes with NODE_ENV=production, against a real PostgreSQL and Temporal dev server. A missing
 * secret, or one of the example values the repository ships, stops the process before it connects anywhere,
 * naming the variable and never printing a value; fresh random secrets start both.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashApiKey } from '../../src/api/auth';
import { generateSigningKey, signingKeyToPem } from '../../src/certificate/keys';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/dev/servers';
import { writeWorkflowBundle } from '../../src/temporal/workflow-bundle';
import { freshDatabase, sharedPostgres } from '../harness/postgres';

const root = path.resolve(__dirname, '..', '..');

type Entry = 'worker' | 'api';
const entries: Record<Entry, { file: string; ready: string }> = {
  worker: { file: 'src/worker.ts', ready: '"worker polling"' },
  api: { file: 'src/api/main.ts', ready: '"API listening"' },
};

/**
 * Runs an entry point with exactly `env` (nothing inherited but PATH and HOME) until it logs that it is
 * ready (then stops it) or exits by itself; returns what it printed and how it ended.
 */
function start(entry: Entry, env: Record<string, string | undefined>): Promise<{ output: string; ready: boolean; exitCode?: number }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(root, entries[entry].file)], {
    cwd: root,
    // An undefined entry is a variable left unset.
    env: Object.fromEntries(Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, ...env }).filter(([, v]) => v !== undefined)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let ready = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} neither became ready nor exited in 120 s:\n${output}`));
    }, 120_000);
    const read = (b: Buffer) => {
      output += b.toString();
      if (!ready && output.includes(entries[entry].ready)) {
        ready = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(ready ? { output, ready } : { output, ready, exitCode: code ?? undefined });
    });
  });
}

/** The suite's master key: fresh, but one for the database it sets up (another would not unwrap its keys). */
const masterKey = randomBytes(32).toString('base64');

/** Fresh secrets, as an operator following the README would generate them. */
function freshSecrets() {
  return {
    SUBJECT_HASH_SECRET: randomBytes(32).toString('hex'),
    ENGINE_MASTER_KEY: masterKey,
    SIGNING_KEY_PEM: signingKeyToPem(generateSigningKey()),
    CODEC_PATH_TOKEN: randomBytes(32).toString('hex'),
    API_KEYS: `ops:intake,operator,read:${hashApiKey(randomBytes(32).toString('hex'))}`,
    CRM_WEBHOOK_SECRET: randomBytes(32).toString('hex'),
  };
}

describe('no default secrets in production (the worker and the API as processes)', function () {
  this.timeout(600_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-prod-secrets-'));
  let temporal: TemporalDevServer | undefined;
  let base: Record<string, string>;

  before(async () => {
    const pg = await sharedPostgres();
    temporal = await startTemporalDevServer();
    const catalog = path.join(dir, 'catalog.yaml');
    fs.writeFileSync(
      catalog,
      'systems:\n  - id: crm\n    kind: webhook\n    url: https://crm.example.com/gdpr/erase\n    secret: ${CRM_WEBHOOK_SECRET}\n    confirmation: response\n',
    );
    const bundle = await writeWorkflowBundle(path.join(dir, 'workflow-bundle.js'));
    base = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      DATABASE_URL: pg.urlFor(await freshDatabase(pg, 'prodsecrets')),
      TEMPORAL_ADDRESS: temporal.address,
      TASK_QUEUE: `prod-secrets-${randomBytes(4).toString('hex')}`,
      ERASURE_CATALOG: catalog,
      WORKFLOW_BUNDLE: bundle.file,
      PORT: '0',
      HOST: '127.0.0.1',
    };
  });
  after(async () => {
    await temporal?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const entry of ['worker', 'api'] as const) {
    describe(`npm run ${entry}`, () => {
      it('refuses to start without the subject secret, the master key or the signing key, naming each', async () => {
        const fresh = freshSecrets();
        const run = await start(entry, { ...base, ...fresh, SUBJECT_HASH_SECRET: undefined, ENGINE_MASTER_KEY: undefined, SIGNING_KEY_PEM: undefined });
        assert.equal(run.exitCode, 1, run.output);
        for (const name of ['SUBJECT_HASH_SECRET', 'ENGINE_MASTER_KEY', 'SIGNING_KEY_PEM']) assert.match(run.output, new RegExp(`${name}: is required when NODE_ENV=production`), run.output);
        assert.ok(![fresh.CODEC_PATH_TOKEN, fresh.CRM_WEBHOOK_SECRET, masterKey].some((v) => run.output.includes(v)), 'no value is printed');
      });

      it('refuses the example values the repository ships, naming each variable and printing none', async () => {
        const keyFile = path.join(dir, `${entry}-signing.pem`);
        // The README's and .env.example's examples, as someone copying them would set them.
        fs.writeFileSync(keyFile, 'change-me-to-a-long-random-string\n');
        const run = await start(entry, {
          ...base,
          ...freshSecrets(),
          SIGNING_KEY_PEM: undefined,
          SUBJECT_HASH_SECRET: 'dev-only-subject-hash-secret',
          CODEC_PATH_TOKEN: 'change-me-codec-token',
          SIGNING_KEY_FILE: keyFile,
          API_KEYS: `ops:operator:${hashApiKey('change-me-to-a-long-random-string')}`,
        });
        assert.equal(run.exitCode, 1, run.output);
        for (const name of ['SUBJECT_HASH_SECRET', 'CODEC_PATH_TOKEN', 'SIGNING_KEY_FILE', 'API_KEYS']) assert.match(run.output, new RegExp(`${name}: .*example`), run.output);
        assert.ok(!/dev-only-subject-hash-secret|change-me/.test(run.output), run.output);
      });

      it("refuses a catalog webhook secret that is an example value, naming the catalog's variable", async () => {
        const run = await start(entry, { ...base, ...freshSecrets(), CRM_WEBHOOK_SECRET: 'change-me-webhook-secret' });
        assert.equal(run.exitCode, 1, run.output);
        assert.match(run.output, /systems\[0\]\.secret: environment variable CRM_WEBHOOK_SECRET holds an example value/, run.output);
        assert.ok(!run.output.includes('change-me-webhook-secret'), run.output);
      });

      it('starts with fresh random secrets', async () => {
        const run = await start(entry, { ...base, ...freshSecrets() });
        assert.ok(run.ready, run.output);
      });
    });
  }

  it('outside production the same examples and defaults still start (the local and test setups rely on them)', async () => {
    const run = await start('api', { ...base, ...freshSecrets(), SUBJECT_HASH_SECRET: undefined, SIGNING_KEY_PEM: undefined, NODE_ENV: 'development', ERASURE_DATA_DIR: path.join(dir, 'data'), CRM_WEBHOOK_SECRET: 'change-me-webhook-secret' });
    assert.ok(run.ready, run.output);
  });
});
