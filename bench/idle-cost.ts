/**
 * Idle cost: N open erasures (default 10,000) waiting for a manual confirmation. Reports the worker's RSS
 * and CPU while they wait, the API's and Temporal server's, and the size of the Temporal server's SQLite
 * database and of the engine's ledger.
 *
 *   npx ts-node bench/idle-cost.ts [--quick] [--requests=10000] [--window=60] [--submit-minutes=25] [--settle-minutes=15]
 */
import { randomBytes } from 'node:crypto';
import { countByStatus, erasureBody, manualOnlyCatalog, pool, processStats, sqliteSize, startCluster, submit, until } from './lib/cluster';
import { args, printTable, run, sleep, writeResult } from './lib/report';

const MiB = 2 ** 20;

run(async () => {
  const a = args();
  const requested = a.num('requests', a.quick ? 1000 : 10_000);
  const windowS = a.num('window', a.quick ? 20 : 60);
  const submitBudgetMs = a.num('submit-minutes', 25) * 60_000;
  const cluster = await startCluster({ catalog: manualOnlyCatalog });
  try {
    await sleep(5_000);
    const before = processStats(cluster.worker!.pid);
    const runId = `idle-${randomBytes(3).toString('hex')}`;
    const started = Date.now();
    // Bounded: stop submitting when the budget runs out and report how many were open.
    let submitted = 0;
    const stopAt = started + submitBudgetMs;
    await pool(requested, 16, async (i) => {
      if (Date.now() > stopAt) return;
      await submit(cluster, erasureBody(runId, i));
      submitted++;
    });
    const submitS = (Date.now() - started) / 1000;
    // Bounded too: past the settle budget, measure what is waiting and say so.
    await until(async () => (await countByStatus(cluster, 'awaiting_confirmation')) >= submitted, `${submitted} workflows awaiting confirmation`, a.num('settle-minutes', 15) * 60_000, 2_000).catch(
      (err: Error) => process.stdout.write(`${err.message}; measuring anyway\n`),
    );
    const settledS = (Date.now() - started) / 1000;
    await sleep(10_000); // let the last tasks and the SQLite WAL settle
    const w0 = processStats(cluster.worker!.pid);
    const api0 = processStats(cluster.api!.pid);
    const t0 = processStats(cluster.temporal.process.pid!);
    const rss: number[] = [];
    for (let s = 0; s < windowS; s += 5) {
      await sleep(5_000);
      rss.push(processStats(cluster.worker!.pid).rssBytes);
    }
    const w1 = processStats(cluster.worker!.pid);
    const api1 = processStats(cluster.api!.pid);
    const t1 = processStats(cluster.temporal.process.pid!);
    const waiting = await countByStatus(cluster, 'awaiting_confirmation');
    const { rows } = await cluster.ledger.query<{ bytes: string }>(`SELECT pg_database_size(current_database()) AS bytes`);
    const cpuPct = (a0: number, a1: number) => Math.round(((a1 - a0) / windowS) * 1000) / 10;
    const result = {
      openErasuresRequested: requested,
      openErasuresSubmitted: submitted,
      openErasuresWaiting: waiting,
      submitSeconds: submitS,
      secondsUntilAllWaiting: settledS,
      idleWindowSeconds: windowS,
      workerRssMiBBefore: Math.round(before.rssBytes / MiB),
      workerRssMiBWaiting: Math.round(Math.max(...rss) / MiB),
      workerCpuPercentWaiting: cpuPct(w0.cpuSeconds, w1.cpuSeconds),
      apiRssMiB: Math.round(api1.rssBytes / MiB),
      apiCpuPercentWaiting: cpuPct(api0.cpuSeconds, api1.cpuSeconds),
      temporalServerRssMiB: Math.round(t1.rssBytes / MiB),
      temporalServerCpuPercentWaiting: cpuPct(t0.cpuSeconds, t1.cpuSeconds),
      temporalSqliteMiB: Math.round((sqliteSize(cluster.temporalDbFile) / MiB) * 10) / 10,
      temporalSqliteBytesPerErasure: Math.round(sqliteSize(cluster.temporalDbFile) / Math.max(1, waiting)),
      ledgerDatabaseMiB: Math.round((Number(rows[0].bytes) / MiB) * 10) / 10,
    };
    printTable(`Idle cost: ${waiting} erasures waiting for a manual confirmation (CPU in % of one core over ${windowS} s)`, [
      { what: 'worker', 'RSS MiB': result.workerRssMiBWaiting, 'RSS MiB with 0 open': result.workerRssMiBBefore, 'CPU %': result.workerCpuPercentWaiting },
      { what: 'API', 'RSS MiB': result.apiRssMiB, 'CPU %': result.apiCpuPercentWaiting },
      { what: 'Temporal dev server', 'RSS MiB': result.temporalServerRssMiB, 'CPU %': result.temporalServerCpuPercentWaiting, 'database MiB': result.temporalSqliteMiB },
      { what: 'engine ledger (PostgreSQL)', 'database MiB': result.ledgerDatabaseMiB },
    ]);
    writeResult('idle-cost', result);
  } finally {
    await cluster.stop();
  }
});
