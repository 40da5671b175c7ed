/**
 * Idle cost: N open erasures (default 10,000) waiting for a manual confirmation. Reports the worker's RSS
 * and CPU while they wait, the API's and Temporal server's, and the size of the Temporal server's SQLite
 * database and of the engine's ledger. (`bench/growth.ts --idle-at=N` takes the same measurement inside
 * its N-request run, before it confirms the requests.)
 *
 *   npx ts-node bench/idle-cost.ts [--quick] [--requests=10000] [--window=60] [--submit-minutes=40] [--settle-minutes=15]
 */
import { randomBytes } from 'node:crypto';
import { manualOnlyCatalog, processStats, startCluster } from './lib/cluster';
import { measureIdle, settleWaiting, submitAll } from './lib/costs';
import { args, printTable, run, sleep, writeResult } from './lib/report';

run(async () => {
  const a = args();
  const requested = a.num('requests', a.quick ? 1000 : 10_000);
  const windowS = a.num('window', a.quick ? 20 : 60);
  const cluster = await startCluster({ catalog: manualOnlyCatalog });
  try {
    await sleep(5_000);
    const before = processStats(cluster.worker!.pid);
    const started = Date.now();
    // Bounded: stop submitting when the budget runs out and report how many were open.
    const submitted = await submitAll(cluster, `idle-${randomBytes(3).toString('hex')}`, requested, { until: started + a.num('submit-minutes', 40) * 60_000 });
    const submitS = (Date.now() - started) / 1000;
    await settleWaiting(cluster, submitted, a.num('settle-minutes', 15));
    const settledS = (Date.now() - started) / 1000;
    const idle = await measureIdle(cluster, windowS, before.rssBytes);
    printTable(`Idle cost: ${idle.result.openErasuresWaiting} erasures waiting for a manual confirmation (CPU in % of one core over ${windowS} s)`, idle.table);
    writeResult('idle-cost', { openErasuresRequested: requested, openErasuresSubmitted: submitted, submitSeconds: submitS, secondsUntilAllWaiting: settledS, ...idle.result });
  } finally {
    await cluster.stop();
  }
});
