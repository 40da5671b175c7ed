/**
 * What an engine costs, measured from outside its processes: CPU time and memory of the worker, the API and
 * the Temporal dev server (from /proc), and the size of Temporal's SQLite file and of the engine's ledger.
 * Shared by the growth and idle-cost benchmarks, which differ only in what the requests do in between.
 */
import { certified, countByStatus, erasureBody, pool, processStats, sqliteSize, submit, until, type Cluster } from './cluster';
import { sleep } from './report';

const MiB = 2 ** 20;

/** Cost counters at one moment. */
export interface CostSnapshot {
  at: number;
  worker: ReturnType<typeof processStats>;
  api: ReturnType<typeof processStats>;
  temporal: ReturnType<typeof processStats>;
  temporalDbBytes: number;
  ledgerDbBytes: number;
}

export async function snapshot(cluster: Cluster): Promise<CostSnapshot> {
  const { rows } = await cluster.ledger.query<{ bytes: string }>(`SELECT pg_database_size(current_database()) AS bytes`);
  return {
    at: Date.now(),
    worker: processStats(cluster.worker!.pid),
    api: processStats(cluster.api!.pid),
    temporal: processStats(cluster.temporal.process.pid!),
    temporalDbBytes: sqliteSize(cluster.temporalDbFile),
    ledgerDbBytes: Number(rows[0].bytes),
  };
}

/**
 * Per-request cost of `n` requests between two snapshots. `paused.ms` is wall time spent on purpose between
 * them (an idle measurement) and `paused.cpu` the CPU seconds each process used in it; both are left out.
 */
export function perRequestCost(n: number, from: CostSnapshot, to: CostSnapshot, paused?: { ms: number; cpu: { worker: number; api: number; temporal: number } }) {
  const seconds = (to.at - from.at - (paused?.ms ?? 0)) / 1000;
  const cpuMs = (k: 'worker' | 'api' | 'temporal') => Math.round(((to[k].cpuSeconds - from[k].cpuSeconds - (paused?.cpu[k] ?? 0)) * 1000) / n);
  return {
    requests: n,
    'total s': Math.round(seconds * 10) / 10,
    'requests/s': Math.round((n / seconds) * 10) / 10,
    'ms per request': Math.round((seconds * 1000) / n),
    'worker CPU ms/request': cpuMs('worker'),
    'API CPU ms/request': cpuMs('api'),
    'Temporal CPU ms/request': cpuMs('temporal'),
    'Temporal DB KiB/request': Math.round(((to.temporalDbBytes - from.temporalDbBytes) / 1024 / n) * 10) / 10,
    'ledger DB KiB/request': Math.round(((to.ledgerDbBytes - from.ledgerDbBytes) / 1024 / n) * 10) / 10,
    'worker RSS MiB at end': Math.round(to.worker.rssBytes / MiB),
  };
}

/** Prints `label: done/total (rate/s)` every `everyMs` until stopped; long phases never run silent. */
export function progress(label: string, total: number, done: () => Promise<number> | number, everyMs = 30_000): () => void {
  const t0 = Date.now();
  const timer = setInterval(() => {
    void Promise.resolve(done()).then(
      (d) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${label}: ${d}/${total} (${(d / ((Date.now() - t0) / 1000)).toFixed(1)}/s)\n`),
      () => undefined,
    );
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Submits requests `runId-0` … `runId-(n-1)` with 16 lanes, printing progress. With `until` set, requests
 * not yet sent when that time passes are skipped (a bounded run); returns how many were accepted.
 */
export async function submitAll(cluster: Cluster, runId: string, n: number, opts: { until?: number } = {}): Promise<number> {
  let accepted = 0;
  const stop = progress('submitted', n, () => accepted);
  try {
    await pool(n, 16, async (i) => {
      if (opts.until !== undefined && Date.now() > opts.until) return;
      await submit(cluster, erasureBody(runId, i));
      accepted++;
    });
  } finally {
    stop();
  }
  return accepted;
}

/** Waits (bounded) until `n` workflows wait for a manual confirmation; on time-out says so and goes on. */
export async function settleWaiting(cluster: Cluster, n: number, minutes: number): Promise<void> {
  const stop = progress('awaiting confirmation', n, () => countByStatus(cluster, 'awaiting_confirmation'));
  try {
    await until(async () => (await countByStatus(cluster, 'awaiting_confirmation')) >= n, `${n} workflows awaiting confirmation`, minutes * 60_000, 2_000).catch(
      (err: Error) => process.stdout.write(`${err.message}; measuring anyway\n`),
    );
  } finally {
    stop();
  }
}

/** Waits (bounded) until every request of `runId` has its certificate, printing progress. */
export async function waitCertified(cluster: Cluster, runId: string, n: number, minutes: number): Promise<void> {
  const stop = progress('certified', n, () => certified(cluster, runId));
  try {
    await until(async () => (await certified(cluster, runId)) === n, `${n} certificates`, minutes * 60_000, 1_000);
  } finally {
    stop();
  }
}

/**
 * Idle cost: with the open erasures waiting, the CPU (% of one core) each process uses over `windowS`, the
 * worker's largest RSS sampled every 5 s, and the storage the waiting requests hold.
 */
export async function measureIdle(cluster: Cluster, windowS: number, workerRssBeforeBytes: number) {
  await sleep(10_000); // let the last tasks and the SQLite WAL settle
  const s0 = await snapshot(cluster);
  const rss: number[] = [];
  for (let s = 0; s < windowS; s += 5) {
    await sleep(5_000);
    rss.push(processStats(cluster.worker!.pid).rssBytes);
  }
  const s1 = await snapshot(cluster);
  const waiting = await countByStatus(cluster, 'awaiting_confirmation');
  const cpuPct = (k: 'worker' | 'api' | 'temporal') => Math.round(((s1[k].cpuSeconds - s0[k].cpuSeconds) / windowS) * 1000) / 10;
  const result = {
    openErasuresWaiting: waiting,
    idleWindowSeconds: windowS,
    workerRssMiBBefore: Math.round(workerRssBeforeBytes / MiB),
    workerRssMiBWaiting: Math.round(Math.max(...rss) / MiB),
    workerCpuPercentWaiting: cpuPct('worker'),
    apiRssMiB: Math.round(s1.api.rssBytes / MiB),
    apiCpuPercentWaiting: cpuPct('api'),
    temporalServerRssMiB: Math.round(s1.temporal.rssBytes / MiB),
    temporalServerCpuPercentWaiting: cpuPct('temporal'),
    temporalSqliteMiB: Math.round((s1.temporalDbBytes / MiB) * 10) / 10,
    temporalSqliteBytesPerErasure: Math.round(s1.temporalDbBytes / Math.max(1, waiting)),
    ledgerDatabaseMiB: Math.round((s1.ledgerDbBytes / MiB) * 10) / 10,
  };
  const table = [
    { what: 'worker', 'RSS MiB': result.workerRssMiBWaiting, 'RSS MiB with 0 open': result.workerRssMiBBefore, 'CPU %': result.workerCpuPercentWaiting },
    { what: 'API', 'RSS MiB': result.apiRssMiB, 'CPU %': result.apiCpuPercentWaiting },
    { what: 'Temporal dev server', 'RSS MiB': result.temporalServerRssMiB, 'CPU %': result.temporalServerCpuPercentWaiting, 'database MiB': result.temporalSqliteMiB },
    { what: 'engine ledger (PostgreSQL)', 'database MiB': result.ledgerDatabaseMiB },
  ];
  const paused = {
    ms: s1.at - s0.at + 10_000,
    cpu: { worker: s1.worker.cpuSeconds - s0.worker.cpuSeconds, api: s1.api.cpuSeconds - s0.api.cpuSeconds, temporal: s1.temporal.cpuSeconds - s0.temporal.cpuSeconds },
  };
  return { result, table, paused };
}
