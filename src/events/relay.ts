/**
 * The event relay: publishes what state changes queued in `event_outbox` (./outbox.ts) to Kafka, at least
 * once, then deletes it. It runs in the API process when `KAFKA_BROKERS` is set and is the only part of the
 * engine that publishes.
 *
 * Each pass claims the oldest messages (`FOR UPDATE SKIP LOCKED`, so two API processes never publish the
 * same row at once), publishes them in id order with the idempotent producer (acks from all in-sync
 * replicas) and deletes them in the same short transaction once Kafka acknowledged them. A key whose earlier
 * message is still in the outbox, unpublished (held by another relay, or failed), waits for it: a request's
 * events reach the topic in the order they were recorded. A broker that is down costs a retry later, with
 * backoff; erasures never wait for it, since they only insert rows.
 *
 * A pass starts as soon as a message commits (LISTEN on {@link OUTBOX_CHANNEL}, on a connection of its
 * own) and otherwise every `pollMs`, which also covers notifications lost while that connection was down.
 */
import pg from 'pg';
import type { Admin } from '@platformatic/kafka';
import type { Logger } from '../logger';
import type { Pool, PoolClient } from '../ledger/db';
import type { EngineMetrics } from '../metrics';
import { createKafkaAdmin, createProducer, ensureTopics, type Bootstrap, type EventProducer, type TopicSpec } from './kafka-client';
import { OUTBOX_CHANNEL } from './outbox';

export interface EventRelayOptions {
  pool: Pool;
  /** The engine database URL, for the LISTEN connection (the pool's connections come and go). */
  connectionString: string;
  /** Bootstrap broker, `host:port`. */
  bootstrap: Bootstrap;
  /** Topics to create at start if missing (the events topic, with its partition count). */
  topics: readonly TopicSpec[];
  logger: Logger;
  /** Messages per pass (default 200). */
  batch?: number;
  /** Pass interval when nothing notifies (default 1000 ms). */
  pollMs?: number;
  /** Longest wait between attempts while Kafka fails (default 10 s; the wait doubles from 250 ms). */
  maxBackoffMs?: number;
  /** Send attempts of the producer within one pass before the pass counts as failed (default 3). */
  sendRetries?: number;
  /** Published messages and the outbox backlog. */
  metrics?: Pick<EngineMetrics, 'eventsPublished' | 'eventOutboxBacklog'>;
}

/** A running relay. */
export interface EventRelay {
  /** Messages Kafka acknowledged since start (a message published twice counts twice). */
  readonly published: number;
  /** Passes that failed since start. */
  readonly failures: number;
  /** Runs a pass now (tests, shutdown). */
  wake(): void;
  stop(): Promise<void>;
}

interface OutboxRow {
  id: string;
  topic: string;
  message_key: string;
  value: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
/** Why a pass failed, for `last_error` and logs: the client's message, never a payload (none is in it). */
const describe = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 500);

/**
 * Claims the oldest messages and drops every key that has an earlier message not in the claim (another
 * relay holds it): publishing those now would overtake it.
 */
async function claim(c: PoolClient, batch: number): Promise<OutboxRow[]> {
  const { rows } = await c.query<OutboxRow>(
    'SELECT id, topic, message_key, value FROM event_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED',
    [batch],
  );
  if (rows.length === 0) return rows;
  const ids = rows.map((r) => r.id);
  const { rows: blocked } = await c.query<{ topic: string; message_key: string }>(
    `SELECT DISTINCT o.topic, o.message_key FROM event_outbox o
      JOIN unnest($2::text[], $3::text[]) AS k(topic, message_key) ON k.topic = o.topic AND k.message_key = o.message_key
     WHERE o.id <> ALL($1::bigint[]) AND o.id < $4`,
    [ids, rows.map((r) => r.topic), rows.map((r) => r.message_key), rows[rows.length - 1].id],
  );
  if (blocked.length === 0) return rows;
  const held = new Set(blocked.map((b) => `${b.topic}\u0000${b.message_key}`));
  return rows.filter((r) => !held.has(`${r.topic}\u0000${r.message_key}`));
}

/**
 * Starts the relay; it never throws, it logs, waits and tries again.
 * @example const relay = startEventRelay({ pool, connectionString, bootstrap, topics: [{ name: 'erasure.events', partitions: 3 }], logger }); … await relay.stop();
 */
export function startEventRelay(opts: EventRelayOptions): EventRelay {
  const { pool, logger } = opts;
  const batch = opts.batch ?? 200;
  const pollMs = opts.pollMs ?? 1000;
  const maxBackoffMs = opts.maxBackoffMs ?? 10_000;
  let stopped = false;
  let published = 0;
  let failures = 0;
  let producer: EventProducer | undefined;
  let topicsReady = false;
  let wakeUp: (() => void) | undefined;
  let pending = false;
  let onStop: () => void = () => undefined;
  const stopping = new Promise<void>((resolve) => (onStop = resolve));
  const wake = () => {
    pending = true;
    wakeUp?.();
  };
  /** Resolves after `ms`, or earlier when woken. */
  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      if (pending || stopped) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  // A fresh producer after a failure: a client that lost its broker may hold broken connections.
  const dropProducer = () => {
    const p = producer;
    producer = undefined;
    if (p) p.close(true, () => undefined);
  };

  const ensure = async () => {
    let admin: Admin | undefined;
    try {
      admin = createKafkaAdmin(opts.bootstrap, 'erasure-engine-relay-admin');
      const created = await ensureTopics(admin, opts.topics);
      if (created.length > 0) logger.info({ topics: created }, 'event topics created');
    } finally {
      await admin?.close().catch(() => undefined);
    }
  };

  /** One pass: resolves to how many rows it claimed (a full batch means more may wait). */
  const pass = async (): Promise<number> => {
    const c = await pool.connect();
    let rows: OutboxRow[] = [];
    try {
      await c.query('BEGIN');
      rows = await claim(c, batch);
      if (rows.length > 0) {
        producer ??= createProducer(opts.bootstrap, { clientId: 'erasure-engine-relay', retries: opts.sendRetries ?? 3 });
        // Rows are in id order; one send keeps that order within each partition.
        await producer.send({ messages: rows.map((r) => ({ topic: r.topic, key: r.message_key, value: JSON.stringify(r.value) })) });
        await c.query('DELETE FROM event_outbox WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
      }
      await c.query('COMMIT');
      published += rows.length;
      for (const r of rows) opts.metrics?.eventsPublished.inc({ topic: r.topic });
      return rows.length;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      if (rows.length > 0) {
        await c
          .query('UPDATE event_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id), describe(err)])
          .catch(() => undefined);
      }
      throw err;
    } finally {
      c.release();
    }
  };

  const countBacklog = async () => {
    if (!opts.metrics) return;
    const n = await pool.query<{ n: string }>('SELECT count(*) AS n FROM event_outbox').then((r) => Number(r.rows[0].n), () => undefined);
    if (n !== undefined) opts.metrics.eventOutboxBacklog.set(n);
  };

  const loop = async () => {
    let streak = 0;
    while (!stopped) {
      pending = false;
      try {
        if (!topicsReady) {
          await ensure();
          topicsReady = true;
        }
        const claimed = await pass();
        if (streak > 0) logger.info({ failedPasses: streak }, 'event relay publishing again');
        streak = 0;
        if (claimed >= batch) continue;
        await countBacklog();
        await idle(pollMs);
      } catch (err) {
        failures++;
        streak++;
        dropProducer();
        const waitMs = Math.min(maxBackoffMs, 250 * 2 ** Math.min(streak - 1, 10));
        // One line per failure would flood the log during an outage: the first, then every tenth.
        if (streak === 1 || streak % 10 === 0) logger.warn({ err: { message: describe(err) }, failedPasses: streak, retryInMs: waitMs }, 'event relay pass failed; events stay in the outbox');
        await countBacklog();
        // Commits do not cut the backoff short (they would hammer a broker that is down); stopping does.
        await Promise.race([sleep(waitMs), stopping]);
      }
    }
  };

  const listener = listen(opts.connectionString, wake, logger, () => stopped);
  const running = loop();
  return {
    get published() {
      return published;
    },
    get failures() {
      return failures;
    },
    wake,
    async stop() {
      stopped = true;
      onStop();
      wakeUp?.();
      await running;
      await listener.close();
      const p = producer;
      producer = undefined;
      await p?.close().catch(() => undefined);
    },
  };
}

/**
 * LISTEN on the outbox channel on a connection of its own, calling `onNotify` for each notification and
 * reconnecting (after 1 s, then up to 10 s) whenever the connection fails.
 */
function listen(connectionString: string, onNotify: () => void, logger: Logger, stopped: () => boolean): { close(): Promise<void> } {
  let client: pg.Client | undefined;
  let retryMs = 1000;
  let timer: NodeJS.Timeout | undefined;
  const connect = async () => {
    if (stopped()) return;
    const c = new pg.Client({ connectionString, application_name: 'erasure-event-relay' });
    client = c;
    c.on('notification', onNotify);
    c.on('error', (err) => {
      logger.warn({ err: { message: err.message } }, 'event relay lost its LISTEN connection; polling until it is back');
      retry(c);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${OUTBOX_CHANNEL}`);
      retryMs = 1000;
      // Anything committed while not listening is picked up at once.
      onNotify();
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, 'event relay cannot LISTEN yet; polling');
      retry(c);
    }
  };
  const retry = (c: pg.Client) => {
    if (client !== c) return;
    client = undefined;
    void c.end().catch(() => undefined);
    if (stopped() || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, retryMs);
    timer.unref();
    retryMs = Math.min(10_000, retryMs * 2);
  };
  void connect();
  return {
    async close() {
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
