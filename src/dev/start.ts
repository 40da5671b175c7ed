/**
 * `npm start`: the whole engine on embedded defaults. Starts PostgreSQL (engine ledger + a demo database),
 * the Temporal dev server persisting to SQLite with the Web UI on :8233 wired to the codec server, the
 * worker, the API on :3000 and the codec server on :8888. Everything lives in `.data/`; Ctrl-C stops it all.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { hashApiKey } from '../api/auth';
import { startApi, startCodecServer } from '../api/main';
import { generateMasterKey } from '../codec/keys';
import { loadLocalRunConfig, type LocalRunConfig } from '../config';
import { openEngine } from '../engine';
import { connectTemporal } from '../temporal/connection';
import { createLogger } from '../logger';
import { createEngineWorker } from '../worker';
import { projectRoot, startPostgres, startTemporalDevServer } from './servers';
import { startKafka } from './kafka';
import { startMailpit } from './mailpit';

/** Reads a generated secret from the data folder, creating it on first start. */
function secretFile(file: string, make: () => string, logger: ReturnType<typeof createLogger>, what: string): string {
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, make(), { mode: 0o600 });
    logger.info({ file }, `generated ${what} for local runs`);
  }
  return fs.readFileSync(file, 'utf8').trim();
}

async function seedDemo(url: string): Promise<void> {
  const c = new PgClient({ connectionString: url });
  await c.connect();
  try {
    await c.query(`CREATE TABLE IF NOT EXISTS customers (id bigserial PRIMARY KEY, email text NOT NULL, name text, created_at timestamptz NOT NULL DEFAULT now())`);
    await c.query(`CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, customer_email text NOT NULL, customer_name text, total_cents int NOT NULL)`);
    const { rows } = await c.query('SELECT count(*)::int AS n FROM customers');
    if (rows[0].n === 0) {
      await c.query(`INSERT INTO customers (email, name) VALUES ('jane.doe@example.com', 'Jane Doe'), ('max.mustermann@example.com', 'Max Mustermann')`);
      await c.query(`INSERT INTO orders (customer_email, customer_name, total_cents) VALUES ('jane.doe@example.com', 'Jane Doe', 4200), ('max.mustermann@example.com', 'Max Mustermann', 1999)`);
    }
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // Validated before anything starts: a bad port or data folder stops here with the variable's name.
  let local: LocalRunConfig;
  try {
    local = loadLocalRunConfig(process.env);
  } catch (err) {
    process.stderr.write(`local run failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const logger = createLogger({ level: local.LOG_LEVEL, name: 'erasure-local' });
  const dataDir = path.resolve(local.ERASURE_DATA_DIR ?? path.join(projectRoot, '.data'));
  fs.mkdirSync(dataDir, { recursive: true });
  const stops: Array<() => Promise<unknown>> = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping…\n');
    for (const stop of stops.reverse()) await stop().catch((err: Error) => process.stderr.write(`  ${err.message}\n`));
    process.exit(code);
  };
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));

  try {
    const pg = await startPostgres({ dataDir: path.join(dataDir, 'postgres'), port: local.LOCAL_PG_PORT });
    stops.push(() => pg.stop());
    await pg.createDatabase('erasure_engine');
    await pg.createDatabase('demo');
    await seedDemo(pg.urlFor('demo'));

    const { PORT: apiPort, CODEC_PORT: codecPort, TEMPORAL_UI_PORT: uiPort } = local;
    const codecToken = local.CODEC_PATH_TOKEN ?? secretFile(path.join(dataDir, 'codec-path-token'), () => randomBytes(18).toString('base64url'), logger, 'codec server path token');
    const temporal = await startTemporalDevServer({
      port: local.TEMPORAL_PORT,
      uiPort,
      dbFile: path.join(dataDir, 'temporal.db'),
      codecEndpoint: `http://localhost:${codecPort}/${codecToken}`,
    });
    stops.push(() => temporal.stop());
    // The events broker (issue 17): a single-node KRaft Kafka keeping its topics in .data/kafka.
    const kafka = await startKafka({ dataDir: path.join(dataDir, 'kafka'), port: local.KAFKA_PORT });
    stops.push(() => kafka.stop());
    // Notifications' mail (src/notify): mailpit takes every message and shows it in its web inbox.
    const mailpit = local.SMTP_HOST ? undefined : await startMailpit({ smtpPort: local.SMTP_PORT, httpPort: local.MAILPIT_PORT, dbFile: path.join(dataDir, 'mailpit.db') });
    if (mailpit) stops.push(() => mailpit.stop());

    const apiKey = secretFile(path.join(dataDir, 'api-key'), () => `local_${randomBytes(24).toString('base64url')}`, logger, 'an API key with every scope');
    // The engine is configured like a worker or an API, from an environment: the process's, with what the
    // local run provides in place of the values left unset. It is also what the local catalog's ${VAR}s read.
    const runEnv: Record<string, string | undefined> = {
      ...process.env,
      DATABASE_URL: local.DATABASE_URL ?? pg.urlFor('erasure_engine'),
      DEMO_DATABASE_URL: local.DEMO_DATABASE_URL ?? pg.urlFor('demo'),
      DEMO_HMAC_KEY: local.DEMO_HMAC_KEY ?? secretFile(path.join(dataDir, 'demo-hmac-key'), () => randomBytes(24).toString('hex'), logger, 'the demo HMAC masking key'),
      TEMPORAL_ADDRESS: local.TEMPORAL_ADDRESS ?? temporal.address,
      KAFKA_BROKERS: local.KAFKA_BROKERS?.join(',') ?? kafka.bootstrap,
      ERASURE_CATALOG: local.ERASURE_CATALOG ?? path.join(projectRoot, 'examples', 'local-catalog.yaml'),
      PORT: String(apiPort),
      SMTP_HOST: local.SMTP_HOST ?? mailpit?.smtpHost,
      SMTP_PORT: String(local.SMTP_PORT),
      ENGINE_PUBLIC_URL: local.ENGINE_PUBLIC_URL ?? `http://localhost:${apiPort}`,
      API_KEYS: [local.API_KEYS, `local:intake,operator,read,certificates:${hashApiKey(apiKey)}`].filter(Boolean).join(';'),
      SUBJECT_HASH_SECRET: local.SUBJECT_HASH_SECRET ?? secretFile(path.join(dataDir, 'subject-hash-secret'), () => randomBytes(24).toString('hex'), logger, 'a subject hash secret'),
    };
    if (!local.ENGINE_MASTER_KEY && !local.ENGINE_MASTER_KEY_FILE) {
      const file = path.join(dataDir, 'master.key');
      secretFile(file, generateMasterKey, logger, 'a payload master key');
      runEnv.ENGINE_MASTER_KEY_FILE = file;
    }

    const engine = await openEngine({ env: runEnv, dataDir, logger, role: 'local' });
    stops.push(() => engine.close());
    const { defaultConnectors } = await import('../systems/registry');
    // The dev server started above speaks plain gRPC; TLS settings apply when TEMPORAL_ADDRESS names another cluster.
    const connection = await connectTemporal(engine.config, (options) => NativeConnection.connect(options));
    const { worker, close } = await createEngineWorker(engine, { connectors: defaultConnectors, connection });
    const running = worker.run();
    stops.push(async () => {
      // The SDK's runtime also shuts workers down on SIGINT/SIGTERM; a second shutdown is harmless.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await close();
      await connection.close();
    });

    const api = await startApi(engine, { port: apiPort });
    stops.push(() => api.close());
    const codecServer = await startCodecServer(engine, {
      port: codecPort,
      pathToken: codecToken,
      corsOrigins: local.CODEC_CORS_ORIGINS ?? [`http://localhost:${uiPort}`, `http://127.0.0.1:${uiPort}`],
    });
    stops.push(() => new Promise((r) => codecServer.close(r)));

    process.stdout.write(
      [
        '',
        'Erasure engine running on embedded defaults (data in ' + path.relative(process.cwd(), dataDir) + '/):',
        `  API            ${api.url}   (OpenAPI: ${api.url}/openapi.json)`,
        `  API key        ${apiKey}`,
        `  Temporal       ${temporal.address}   (namespace default, task queue ${engine.config.TASK_QUEUE})`,
        `  Web UI         ${temporal.uiUrl}   (payloads decoded by the codec server)`,
        `  Codec server   http://localhost:${codecPort}/<token>   (token ${local.CODEC_PATH_TOKEN ? 'from CODEC_PATH_TOKEN' : 'in .data/codec-path-token'})`,
        `  PostgreSQL     ${pg.urlFor('erasure_engine')}   (demo data: ${pg.urlFor('demo')})`,
        `  Kafka          ${kafka.bootstrap}   (Kafka ${kafka.version}, log in ${path.relative(process.cwd(), kafka.logFile)})`,
        mailpit
          ? `  Mail inbox     ${mailpit.url}   (mailpit; notifications are sent to it over SMTP on ${mailpit.smtpHost}:${mailpit.smtpPort})`
          : `  Mail           SMTP ${local.SMTP_HOST}:${local.SMTP_PORT}   (SMTP_HOST is set: no mailpit started)`,
        '',
        'Try it:',
        `  curl -s -X POST ${api.url}/erasures -H 'authorization: Bearer ${apiKey}' -H 'content-type: application/json' \\`,
        `       -d '{"subject":{"email":"jane.doe@example.com"},"jurisdiction":"GDPR"}'`,
        '',
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
  } catch (err) {
    process.stderr.write(`local run failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await stopAll(1);
  }
}

void main();
