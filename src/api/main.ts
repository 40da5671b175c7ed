/**
 * Runs the HTTP API (and its outbox relay) from the environment. Run with `npm run api`.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Client } from '@temporalio/client';
import { certificateReader, engineClient, openEngine, type Engine } from '../engine';
import { startRelay, type Relay } from '../intake/relay';
import { defaultPolicies } from '../domain';
import { pingDatabase } from '../ledger/db';
import { createRequestRepository } from '../ledger/requests';
import { createBatchRepository } from '../ledger/batches';
import { pauseRepository } from '../ledger/pauses';
import { createUseCases, type UseCaseDeps } from '../use-cases';
import { createApp } from './app';
import { findKey, parseApiKeys } from './auth';
import { createCodecServer } from '../codec/server';
import { createAccessTokenVerifier, oidcSettingsFrom } from '../codec/oidc';
import { createCodecAudit } from '../ledger/codec-audit';
import { startShredder } from '../codec/shredder';
import { consumerTopic, privateTopicConsumers } from '../events/consumers';
import { startCompletionsConsumer } from '../events/completions';
import { startKafkaIntake } from '../events/kafka-intake';
import { startEventRelay, type EventRelay } from '../events/relay';

export interface RunningApi {
  server: Server;
  url: string;
  client: Client;
  relay: Relay;
  /** The Kafka event relay, when `KAFKA_BROKERS` is set. */
  eventRelay?: EventRelay;
  close(): Promise<void>;
}

export interface StartApiOptions {
  /** 0 picks a free port (default: the configured PORT). */
  port?: number;
  /** A Temporal client to share (the caller closes it); default: a lazy client of the engine's. */
  client?: Client;
  /** How often the outbox relay and the shredder run (ms). */
  relayIntervalMs?: number;
  /** The intake's clock (tests: a request received days ago, already past its deadline). */
  now?: () => Date;
}

/**
 * Starts the API on `port` (0 picks a free one).
 * @example const api = await startApi(engine, { port: 0 }); … await api.close();
 */
export async function startApi(engine: Engine, opts: StartApiOptions = {}): Promise<RunningApi> {
  const client = opts.client ?? engineClient(engine);
  const apiKeys = parseApiKeys(engine.config.API_KEYS, engine.config.API_KEYS_FILE);
  if (apiKeys.length === 0) engine.logger.warn('no API keys configured (API_KEYS / API_KEYS_FILE): every protected endpoint answers 401');
  const requests = createRequestRepository(engine.pool);
  const intake: UseCaseDeps['intake'] = {
    taskQueue: engine.config.TASK_QUEUE,
    subjectSecret: engine.config.SUBJECT_HASH_SECRET,
    catalog: () => engine.catalog,
    policies: defaultPolicies,
    codec: engine.dataConverter.payloadCodecs?.[0],
    now: opts.now,
  };
  const useCases = createUseCases({
    requests,
    intake,
    client,
    namespace: engine.config.TEMPORAL_NAMESPACE,
    certificates: certificateReader(engine),
    metrics: engine.metrics,
    logger: engine.logger,
    attestor: engine.attestor,
    batches: createBatchRepository(engine.pool),
    pauses: pauseRepository(engine.pool),
    pingDatabase: () => pingDatabase(engine.pool),
  });
  const app = createApp({ useCases, apiKeys, logger: engine.logger, metrics: engine.metrics });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(opts.port ?? engine.config.PORT, engine.config.HOST, () => resolve(s));
    s.once('error', reject);
  });
  // Starts the workflows of accepted requests: woken by each accepted row's NOTIFY, and at once by this process's intake.
  const relay = startRelay({ ...intake, requests, client, logger: engine.logger }, { intervalMs: opts.relayIntervalMs, connectionString: engine.config.DATABASE_URL, metrics: engine.metrics });
  intake.onQueued = () => relay.wake();
  const shredder = startShredder({ pool: engine.pool, requests, client, keyStore: engine.keyStore, logger: engine.logger, intervalMs: opts.relayIntervalMs });
  const kafka = engine.config.KAFKA_BROKERS;
  // Consumers' answers (erasure.consumer-completions) become consumerCompleted actions, as over HTTP.
  const completions = kafka
    ? startCompletionsConsumer({
        bootstrap: kafka,
        topic: engine.config.KAFKA_COMPLETIONS_TOPIC,
        groupId: engine.config.KAFKA_COMPLETIONS_GROUP,
        deadLetterTopic: engine.config.KAFKA_COMPLETIONS_DEAD_LETTER_TOPIC,
        db: engine.pool,
        operatorAction: useCases.operatorAction,
        logger: engine.logger,
        // The events topic is the relay's; the consumers' own topics are created here.
        alsoEnsure: privateTopicConsumers(engine.catalog).map((c) => ({ name: consumerTopic(c), partitions: 1 })),
      })
    : undefined;
  // What state changes queued in event_outbox goes to Kafka from here (the only publisher).
  const eventRelay = kafka
    ? startEventRelay({
        pool: engine.pool,
        connectionString: engine.config.DATABASE_URL,
        bootstrap: kafka,
        topics: [{ name: engine.config.KAFKA_EVENTS_TOPIC, partitions: engine.config.KAFKA_EVENTS_PARTITIONS }],
        logger: engine.logger,
        metrics: engine.metrics,
      })
    : undefined;
  // Requests pushed to erasure.intake take the same way in as POST /erasures.
  const kafkaIntake =
    kafka && engine.config.KAFKA_INTAKE
      ? startKafkaIntake({
          brokers: kafka,
          topic: engine.config.KAFKA_INTAKE_TOPIC,
          groupId: engine.config.KAFKA_INTAKE_GROUP,
          deadLetterTopic: engine.config.KAFKA_INTAKE_DEAD_LETTER_TOPIC,
          submit: useCases.submit,
          logger: engine.logger,
        })
      : undefined;
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  engine.logger.info({ url }, 'API listening');
  return {
    server,
    url,
    client,
    relay,
    eventRelay,
    async close() {
      await relay.stop();
      await shredder.stop();
      await kafkaIntake?.stop();
      await completions?.stop();
      await eventRelay?.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      if (!opts.client) await client.connection.close();
    },
  };
}

/**
 * Starts the remote codec server the Web UI decodes payloads with: operators' API keys, the operators' own
 * access tokens (CODEC_OIDC_*), or a secret first path segment (the UI sends no credentials over http), and
 * CORS for the UI's origins. Every decode is recorded in the ledger's audit trail under its caller.
 */
export async function startCodecServer(engine: Engine, opts: { port: number; pathToken?: string; corsOrigins: string[] }): Promise<Server> {
  const apiKeys = parseApiKeys(engine.config.API_KEYS, engine.config.API_KEYS_FILE);
  const oidc = oidcSettingsFrom(engine.config);
  const operatorKeyName = (presented: string) => {
    const key = findKey(apiKeys, presented);
    return key?.scopes.includes('operator') ? key.name : undefined;
  };
  const app = createCodecServer({
    keyStore: engine.keyStore,
    auth: { pathToken: opts.pathToken, operatorKeys: operatorKeyName, accessTokens: oidc ? createAccessTokenVerifier(oidc) : undefined },
    audit: createCodecAudit(engine.pool),
    corsOrigins: opts.corsOrigins,
    logger: engine.logger,
  });
  if (oidc) engine.logger.info({ issuer: oidc.issuer, audience: oidc.audience }, 'codec server accepts access tokens of the identity provider');
  return new Promise<Server>((resolve, reject) => {
    const s = app.listen(opts.port, engine.config.HOST, () => resolve(s));
    s.once('error', reject);
  });
}

async function main(): Promise<void> {
  const engine = await openEngine({ role: 'api' });
  const api = await startApi(engine);
  const { CODEC_PORT, CODEC_PATH_TOKEN, CODEC_CORS_ORIGINS } = engine.config;
  const codec = CODEC_PORT !== undefined ? await startCodecServer(engine, { port: CODEC_PORT, pathToken: CODEC_PATH_TOKEN, corsOrigins: CODEC_CORS_ORIGINS }) : undefined;
  const stop = async () => {
    codec?.close();
    await api.close();
    await engine.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`API failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
