/**
 * Wiring shared by the worker, the API and the local run: validated config → database (migrated) →
 * payload keys → signing keys → Temporal connection. Each process builds this once and passes it down.
 */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { loadCatalog } from './catalog/load';
import type { Catalog } from './catalog/schema';
import { createCertificateIssuer, getCertificate, jwks, loadKeyRing, loadPublicKeys, loadSigningKey, type KeyRing } from './certificate';
import { createDataConverter } from './codec/data-converter';
import { loadMasterKey, openKeyStore, type KeyStore } from './codec/keys';
import { catalogOptions, loadConfig, signingKeySource, type Config, type Environment } from './config';
import { createPool, type Pool } from './ledger/db';
import { createActivityAudit } from './ledger/audit';
import { migrate } from './ledger/migrate';
import { temporalConnectionOptions } from './temporal/connection';
import { createLogger, type Logger } from './logger';
import { createMetrics, type EngineMetrics } from './metrics';
import type { AuditLog, CertificateIssuer } from './activities';
import { createAttestor, type Attestor } from './attestation';
import { registerNotificationMetrics } from './notify/metrics';

export interface Engine {
  /** The validated configuration; the only place the process's environment is read from. */
  config: Config;
  logger: Logger;
  pool: Pool;
  catalog: Catalog;
  keyStore: KeyStore;
  dataConverter: DataConverter;
  keyRing: KeyRing;
  /** Claims (API) and checks (worker) who sent each operator action; keyed from the master key. */
  attestor: Attestor;
  metrics: EngineMetrics;
  close(): Promise<void>;
}

export interface OpenEngineOptions {
  /** The environment to configure from (default: the process's); validated by `loadConfig`. */
  env?: Environment;
  /** Where a generated signing key is kept; overrides `ERASURE_DATA_DIR`. */
  dataDir?: string;
  logger?: Logger;
  /** Name shown in pg_stat_activity and logs. */
  role?: string;
}

/**
 * Opens everything the worker and the API share; fails fast with a clear message on bad configuration,
 * an unreadable catalog, an unreachable database or a wrong master key.
 * @example const engine = await openEngine({ role: 'worker' });
 */
export async function openEngine(opts: OpenEngineOptions = {}): Promise<Engine> {
  const env = opts.env ?? process.env;
  const config = loadConfig(env);
  const logger = opts.logger ?? createLogger({ level: config.LOG_LEVEL, name: `erasure-${opts.role ?? 'engine'}` });
  const catalog = loadCatalog(path.resolve(config.ERASURE_CATALOG), env, catalogOptions(config));
  const masterKey = loadMasterKey(config);
  const signingKey = { ...signingKeySource(config, opts.dataDir ?? config.ERASURE_DATA_DIR), logger };
  const pool = createPool({ connectionString: config.DATABASE_URL, applicationName: `erasure-${opts.role ?? 'engine'}`, logger });
  try {
    await migrate(pool);
    const keyStore = await openKeyStore({ pool, masterKey, logger });
    const keyRing = await loadKeyRing(pool, loadSigningKey(signingKey), logger);
    const metrics = createMetrics();
    // Read from the ledger, so the API's /metrics shows notifications the workers queued and sent.
    registerNotificationMetrics(metrics.registry, pool);
    return {
      config,
      logger,
      pool,
      catalog,
      keyStore,
      keyRing,
      attestor: createAttestor(masterKey.key),
      dataConverter: createDataConverter(keyStore),
      metrics,
      close: () => pool.end(),
    };
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

/**
 * A Temporal client that encrypts payloads, connected as configured (TLS, client certificate, API key).
 * Lazy: the API starts even while Temporal is down.
 */
export function engineClient(engine: Engine): Client {
  const connection = Connection.lazy(temporalConnectionOptions(engine.config));
  return new Client({ connection, namespace: engine.config.TEMPORAL_NAMESPACE, dataConverter: engine.dataConverter });
}

/**
 * The ledger as the activities see it: audit events also move the request's status and deadline
 * (src/ledger/audit.ts); certificates come from the ledger's issuer (the shredder destroys the data key
 * once the workflow has closed).
 */
export function ledgerForActivities(engine: Engine): { audit: AuditLog; certificates: CertificateIssuer } {
  const { pool, logger } = engine;
  const audit = createActivityAudit({ pool, logger, attestor: engine.attestor, eventsTopic: engine.config.KAFKA_EVENTS_TOPIC });
  return {
    audit,
    // The issuer links the certificate to its request (certificate_id, completed_at), and writes the request's last
    // phase events, in its own transaction.
    certificates: createCertificateIssuer({ pool, keys: engine.keyRing, logger, attestor: engine.attestor, eventsTopic: engine.config.KAFKA_EVENTS_TOPIC, audit }),
  };
}

/** What the API needs to serve certificates and public keys. */
export function certificateReader(engine: Engine) {
  return {
    get: (requestId: string) => getCertificate(engine.pool, requestId),
    jwks: async () => jwks(await loadPublicKeys(engine.pool)),
  };
}
