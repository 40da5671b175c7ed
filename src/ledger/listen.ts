/**
 * LISTEN on one channel of the engine database, on a connection of its own: the wake-up of the relays (the event
 * outbox, the intake's queued requests). Polling stays the safety net; this only makes them prompt.
 */
import pg from 'pg';
import type { Logger } from '../logger';

export interface ListenTarget {
  connectionString: string;
  /** The channel, a plain identifier from the engine's own constants (never input). */
  channel: string;
  /** Who listens, for log lines ("event relay"). */
  name: string;
  applicationName: string;
}

/**
 * Calls `onNotify` for each notification on `target.channel`, and once after every (re)connect, since anything
 * committed while not listening was missed; reconnects after 1 s, then up to 10 s, whenever the connection fails.
 * @example const l = listen({ connectionString, channel: 'erasure_intake', name: 'intake relay', applicationName: 'erasure-intake-relay' }, wake, logger, () => stopped);
 */
export function listen(target: ListenTarget, onNotify: () => void, logger: Logger, stopped: () => boolean): { close(): Promise<void> } {
  if (!/^[a-z_][a-z0-9_]*$/.test(target.channel)) throw new Error(`listen: "${target.channel}" is not a channel name`);
  let client: pg.Client | undefined;
  let retryMs = 1000;
  let timer: NodeJS.Timeout | undefined;
  const connect = async () => {
    if (stopped()) return;
    const c = new pg.Client({ connectionString: target.connectionString, application_name: target.applicationName });
    client = c;
    c.on('notification', onNotify);
    c.on('error', (err) => {
      logger.warn({ err: { message: err.message } }, `${target.name} lost its LISTEN connection; polling until it is back`);
      retry(c);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${target.channel}`);
      retryMs = 1000;
      onNotify();
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, `${target.name} cannot LISTEN yet; polling`);
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
