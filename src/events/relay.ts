/**
 * The event relay: publishes what state changes queued in `event_outbox` (./outbox.ts) to Kafka, at least
 * once, then deletes it. It runs in the API process when `KAFKA_BROKERS` is set and is the only part of the
 * engine that publishes.
 *
 * Each pass claims the oldest unclaimed messages with a lease (`claimed_until`, migration 031; taken in a
 * short `FOR UPDATE SKIP LOCKED` transaction, so two API processes never claim the same row), publishes them
 * in id order with the idempotent producer (acks from all in-sync replicas) within a time bound shorter than
 * the lease, and deletes them once Kafka acknowledged them; a failed pass gives its claim back. No row lock
 * is held while Kafka is waited for, so a state change writing to the outbox never waits for the broker. A
 * key whose earlier message is still in the outbox (claimed by another relay) waits for it: a request's
 * events reach the topic in the order they were recorded. A broker that is down costs a retry later, with
 * backoff.
 *
 * A pass starts as soon as a message commits (LISTEN on {@link OUTBOX_CHANNEL}, on a connection of its
 * own) and otherwise every `pollMs`, which also covers notifications lost while that connection was down.
 */
import pg from 'pg';
import type { Admin } from '@platformatic/kafka';
import type { Logger } from '../logger';
import { withClient, type Pool, type PoolClient } from '../ledger/db';
import { listen } from '../ledger/listen';
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
  /** Longest wait for Kafka's acknowledgement of one pass (default 30 s; the claim lasts 60 s). */
  sendTimeoutMs?: number;
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

/** How long a claim lasts; a send is given up well before (see {@link SEND_TIMEOUT_MS}). */
const LEASE_SECONDS = 60;
const SEND_TIMEOUT_MS = 30_000;

/**
 * Claims the oldest unclaimed messages for {@link LEASE_SECONDS}, in one short transaction, leaving out every
 * key that has an earlier message not in the claim (another relay holds it): publishing those now would
 * overtake it. Returns the claimed rows in id order.
 */
async function claim(c: PoolClient, batch: number): Promise<OutboxRow[]> {
  await c.query('BEGIN');
  try {
    const { rows: candidates } = await c.query<OutboxRow>(
      'SELECT id, topic, message_key, value FROM event_outbox WHERE claimed_until IS NULL OR claimed_until < now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED',
      [batch],
    );
    let rows = candidates;
    if (rows.length > 0) {
      const { rows: blocked } = await c.query<{ topic: string; message_key: string }>(
        `SELECT DISTINCT o.topic, o.message_key FROM event_outbox o
          JOIN unnest($2::text[], $3::text[]) AS k(topic, message_key) ON k.topic = o.topic AND k.message_key = o.message_key
         WHERE o.id <> ALL($1::bigint[]) AND o.id < $4`,
        [rows.map((r) => r.id), rows.map((r) => r.topic), rows.map((r) => r.message_key), rows[rows.length - 1].id],
      );
      const held = new Set(blocked.map((b) => `${b.topic}\u0000${b.message_key}`));
      rows = rows.filter((r) => !held.has(`${r.topic}\u0000${r.message_key}`));
    }
    if (rows.length > 0) {
      await c.query(`UPDATE event_outbox SET claimed_until = now() + make_interval(secs => $2), attempts = attempts + 1 WHERE id = ANY($1::bigint[])`, [
        rows.map((r) => r.id),
        LEASE_SECONDS,
      ]);
    }
    await c.query('COMMIT');
    return rows;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** `promise`, or a rejection once `ms` have passed. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
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
    // No connection is held while Kafka is waited for: the claim is the lease.
    const rows: OutboxRow[] = await withClient(pool, (c) => claim(c, batch));
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => r.id);
    try {
      producer ??= createProducer(opts.bootstrap, { clientId: 'erasure-engine-relay', retries: opts.sendRetries ?? 3 });
      // Rows are in id order; one send keeps that order within each partition. Bounded well inside the
      // lease, so no other relay takes the rows up while this send may still land (that would be a duplicate).
      await within(producer.send({ messages: rows.map((r) => ({ topic: r.topic, key: r.message_key, value: JSON.stringify(r.value) })) }), opts.sendTimeoutMs ?? SEND_TIMEOUT_MS, 'publishing to Kafka');
    } catch (err) {
      // The claim goes back at once, so the next pass (of any relay) retries these rows first.
      await pool.query('UPDATE event_outbox SET claimed_until = NULL, last_error = $2 WHERE id = ANY($1::bigint[])', [ids, describe(err)]).catch(() => undefined);
      throw err;
    }
    // Published: a failure to delete only means they are published again once the claim expires.
    await pool.query('DELETE FROM event_outbox WHERE id = ANY($1::bigint[])', [ids]);
    published += rows.length;
    for (const r of rows) opts.metrics?.eventsPublished.inc({ topic: r.topic });
    return rows.length;
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

  const listener = listen({ connectionString: opts.connectionString, channel: OUTBOX_CHANNEL, name: 'event relay', applicationName: 'erasure-event-relay' }, wake, logger, () => stopped);
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
