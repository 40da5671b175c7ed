/**
 * Growth: the per-request cost of N complete erasures (N = 100, 1,000, 10,000), each on a fresh engine. A
 * request is submitted, its manual system confirmed through the API, and it ends with a certificate; the
 * clock runs from the first POST to the last certificate. Reports wall time, worker and Temporal CPU time and
 * storage, each per request, so a cost that grows with N shows up as a rising column.
 *
 * `--idle-at=N`: in the N-request run, once every request waits for its confirmation, measure the idle cost
 * (as `bench/idle-cost.ts` does) and write `idle-cost.json`; that pause is left out of the growth figures.
 *
 *   npx ts-node bench/growth.ts [--quick] [--sizes=100,1000,10000] [--idle-at=10000] [--window=60] [--minutes=120]
 */
import { randomBytes } from 'node:crypto';
import { api, manualOnlyCatalog, pool, startCluster } from './lib/cluster';
import { measureIdle, perRequestCost, progress, settleWaiting, snapshot, submitAll, waitCertified } from './lib/costs';
import { args, printTable, run, sleep, writeResult } from './lib/report';

run(async () => {
  const a = args();
  const sizes = (a.get('sizes') ?? (a.quick ? '100,1000' : '100,1000,10000')).split(',').map(Number);
  const idleAt = a.num('idle-at', -1);
  const rows: Array<ReturnType<typeof perRequestCost>> = [];
  for (const n of sizes) {
    const cluster = await startCluster({ catalog: manualOnlyCatalog });
    try {
      const runId = `g${n}-${randomBytes(3).toString('hex')}`;
      await sleep(5_000);
      // Storage is counted from the empty engine's size, so the per-request figures are what requests add.
      const s0 = await snapshot(cluster);
      await submitAll(cluster, runId, n);
      let paused: Parameters<typeof perRequestCost>[3];
      if (n === idleAt) {
        await settleWaiting(cluster, n, 30);
        const idle = await measureIdle(cluster, a.num('window', 60), s0.worker.rssBytes);
        printTable(`Idle cost: ${idle.result.openErasuresWaiting} erasures waiting for a manual confirmation`, idle.table);
        writeResult('idle-cost', { measuredBy: `bench/growth.ts --idle-at=${n}`, openErasuresRequested: n, openErasuresSubmitted: n, ...idle.result });
        paused = idle.paused;
      }
      // A confirmation before the workflow waits for it answers 409; pool() retries it.
      let confirmed = 0;
      const stop = progress('confirmed', n, () => confirmed);
      await pool(n, 16, async (i) => {
        const r = await api(cluster, 'POST', `/erasures/${runId}-${i}/confirmations`, { system: 'legacy-billing', confirmedBy: 'bench' });
        if (r.status !== 202) throw new Error(`confirmation answered ${r.status}`);
        confirmed++;
      }).finally(stop);
      await waitCertified(cluster, runId, n, a.num('minutes', 120));
      rows.push(perRequestCost(n, s0, await snapshot(cluster), paused));
      printTable(`Growth: ${n} requests`, rows.slice(-1));
      // Written after every size, so a run stopped at its time bound keeps what it measured.
      writeResult('growth', { catalog: 'manual-only (1 manual system, confirmed via POST /erasures/:id/confirmations)', sizesRequested: sizes, rows });
    } finally {
      await cluster.stop();
    }
  }
  printTable('Growth: per-request cost (manual system confirmed through the API, certificate issued)', rows);
});
