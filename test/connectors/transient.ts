/** Helpers of the transient-fault tests: an activity of a given age, and calls made through an outage. */
import { MockActivityEnvironment } from '@temporalio/testing';

export const MINUTE = 60_000;

/**
 * Runs `fn` in an activity first scheduled `agoMs` ago, now on a later attempt: what a retried activity sees.
 * @example await scheduledAgo(20 * MINUTE, () => conn.erase(task));
 */
export async function scheduledAgo<R>(agoMs: number, fn: () => Promise<R>): Promise<R> {
  const now = Date.now();
  const env = new MockActivityEnvironment({ scheduledTimestampMs: now - agoMs, currentAttemptScheduledTimestampMs: now - 10_000, attempt: 6 });
  return (await env.run(fn)) as R;
}

/**
 * Calls `op` every 100 ms while `restart` runs (a stopped server starting again) and after it, until `op`
 * succeeds; returns every error seen on the way. Gives up 90 s after the restart is over.
 * @example const { errors } = await throughRestart(() => conn.erase(task), () => startAgain());
 */
export async function throughRestart<R>(op: () => Promise<R>, restart: () => Promise<void>): Promise<{ result: R; errors: Error[] }> {
  const errors: Error[] = [];
  let over: number | undefined;
  let failed: unknown;
  const restarting = restart().then(
    () => void (over = Date.now()),
    (err: unknown) => void (failed = err),
  );
  for (;;) {
    if (failed) throw failed;
    try {
      const result = await op();
      await restarting;
      return { result, errors };
    } catch (err) {
      errors.push(err as Error);
      if (over !== undefined && Date.now() - over > 90_000) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
