/**
 * Growth: the per-request cost of N complete erasures (N = 100, 1,000, 10,000), each on a fresh engine. A
 * request is submitted, its manual system confirmed through the API, and it ends with a certificate; the
 * clock runs from the first POST to the last certificate. Reports wall time, worker and Temporal CPU time and
 * storage, each per request, so a cost that grows with N shows up as a rising column.
 *
 *   npx ts-node bench/growth.ts [--quick] [--sizes=100,1000,10000]
 */
import { randomBytes } from 'node:crypto';
import { api, certified, erasureBody, manualOnlyCatalog, pool, processStats, sqliteSize, startCluster, submit, until } from './lib/cluster';
import { args, printTable, run, writeResult } from './lib/report';

run(async () => {
  const a = args();
  const sizes = (a.get('sizes') ?? (a.quick ? '100,1000' : '100,1000,10000')).split(',').map(Number);
  const rows: Array<Record<string, number | string>> = [];
  for (const n of sizes) {
    const cluster = await startCluster({ catalog: manualOnlyCatalog });
    try {
      const runId = `g${n}-${randomBytes(3).toString('hex')}`;
      const dbSize = async () => Number((await cluster.ledger.query<{ bytes: string }>(`SELECT pg_database_size(current_database()) AS bytes`)).rows[0].bytes);
      // Storage is counted from the empty engine's size, so the per-request figures are what requests add.
      const ledger0 = await dbSize();
      const temporal0 = sqliteSize(cluster.temporalDbFile);
      const w0 = processStats(cluster.worker!.pid);
      const t0 = processStats(cluster.temporal.process.pid!);
      const api0 = processStats(cluster.api!.pid);
      const started = Date.now();
      await pool(n, 16, (i) => submit(cluster, erasureBody(runId, i)));
      // A confirmation before the workflow waits for it answers 409; pool() retries it.
      await pool(n, 16, async (i) => {
        const r = await api(cluster, 'POST', `/erasures/${runId}-${i}/confirmations`, { system: 'legacy-billing', confirmedBy: 'bench' });
        if (r.status !== 202) throw new Error(`confirmation answered ${r.status}`);
      });
      await until(async () => (await certified(cluster, runId)) === n, `${n} certificates`, 60 * 60_000, 1_000);
      const seconds = (Date.now() - started) / 1000;
      const w1 = processStats(cluster.worker!.pid);
      const t1 = processStats(cluster.temporal.process.pid!);
      const api1 = processStats(cluster.api!.pid);
      const ledger1 = await dbSize();
      rows.push({
        requests: n,
        'total s': Math.round(seconds * 10) / 10,
        'requests/s': Math.round((n / seconds) * 10) / 10,
        'ms per request': Math.round((seconds * 1000) / n),
        'worker CPU ms/request': Math.round(((w1.cpuSeconds - w0.cpuSeconds) * 1000) / n),
        'API CPU ms/request': Math.round(((api1.cpuSeconds - api0.cpuSeconds) * 1000) / n),
        'Temporal CPU ms/request': Math.round(((t1.cpuSeconds - t0.cpuSeconds) * 1000) / n),
        'Temporal DB KiB/request': Math.round(((sqliteSize(cluster.temporalDbFile) - temporal0) / 1024 / n) * 10) / 10,
        'ledger DB KiB/request': Math.round(((ledger1 - ledger0) / 1024 / n) * 10) / 10,
        'worker RSS MiB at end': Math.round(w1.rssBytes / 2 ** 20),
      });
      printTable(`Growth: ${n} requests`, rows.slice(-1));
      // Written after every size, so a run stopped at its time bound keeps what it measured.
      writeResult('growth', { catalog: 'manual-only (1 manual system, confirmed via POST /erasures/:id/confirmations)', sizesRequested: sizes, rows });
    } finally {
      await cluster.stop();
    }
  }
  printTable('Growth: per-request cost (manual system confirmed through the API, certificate issued)', rows);
});
