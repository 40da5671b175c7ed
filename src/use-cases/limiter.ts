/**
 * A bound on concurrent work per key: at most `perKey` run at once for one key, up to `queue` more wait their
 * turn, and beyond that a call is refused at once. The API sends operator actions through it, keyed by
 * workflow: Temporal accepts only a few in-flight updates per workflow (`history.maxInFlightUpdates`, 10 by
 * default) and answers more with RESOURCE_EXHAUSTED, which the client retries with backoff, so a burst of
 * actions on one request would otherwise make every caller wait for its deadline.
 */

/** Too many calls for one key are running and waiting. */
export class KeyBusyError extends Error {
  override readonly name = 'KeyBusyError';
}

export interface KeyedLimiter {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * @example const limiter = createKeyedLimiter({ perKey: 4, queue: 200 }); await limiter.run(workflowId, () => handle.executeUpdate(…));
 */
export function createKeyedLimiter(opts: { perKey: number; queue: number }): KeyedLimiter {
  const lanes = new Map<string, { active: number; waiting: Array<() => void> }>();
  return {
    async run(key, fn) {
      let lane = lanes.get(key);
      if (!lane) {
        lane = { active: 0, waiting: [] };
        lanes.set(key, lane);
      }
      if (lane.active >= opts.perKey) {
        if (lane.waiting.length >= opts.queue) throw new KeyBusyError(`${lane.active + lane.waiting.length} actions are already under way`);
        await new Promise<void>((resolve) => lane!.waiting.push(resolve));
      }
      lane.active++;
      try {
        return await fn();
      } finally {
        lane.active--;
        const next = lane.waiting.shift();
        if (next) next();
        else if (lane.active === 0) lanes.delete(key);
      }
    },
  };
}
