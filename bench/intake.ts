/**
 * Intake: latency (p50/p95/p99) and throughput of `POST /erasures` at fixed offered rates, with autocannon's
 * `overallRate`. Every request is a new erasure (unique request id and subject) against a running worker, a
 * manual-only catalog (each workflow then waits for a confirmation) and the Temporal dev server on SQLite.
 *
 *   npx ts-node bench/intake.ts [--quick] [--rates=100,500] [--duration=30]
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { erasureBody, manualOnlyCatalog, pool, startCluster, submit } from './lib/cluster';
import { args, percentile, printTable, run, sleep, writeResult } from './lib/report';

run(async () => {
  const a = args();
  const rates = (a.get('rates') ?? '100,500').split(',').map(Number);
  const duration = a.num('duration', a.quick ? 5 : 30);
  const cluster = await startCluster({ catalog: manualOnlyCatalog });
  // Warm-up outside the measurement: connections, JIT, the worker's first workflow tasks.
  await pool(20, 4, (i) => submit(cluster, erasureBody(`warmup-${randomBytes(3).toString('hex')}`, i)));
  const rows: Array<Record<string, number | string>> = [];
  try {
    for (const rate of rates) {
      const runId = `in${rate}-${randomBytes(3).toString('hex')}`;
      let n = 0;
      // Enough connections that a slow answer does not lower the offered rate (rate × 1 s of latency).
      const connections = Math.max(10, rate);
      const latencies: number[] = [];
      const result = await new Promise<autocannon.Result>((resolve, reject) => {
        const instance = autocannon({
        url: cluster.apiUrl,
        connections,
        duration,
        overallRate: rate,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            path: '/erasures',
            headers: { authorization: `Bearer ${cluster.apiKey}`, 'content-type': 'application/json' },
            setupRequest(req) {
              const i = n++;
              return {
                ...req,
                body: JSON.stringify({ requestId: `${runId}-${i}`, jurisdiction: 'GDPR', subject: { email: `s-${runId}-${i}@example.com` } }),
              };
            },
          },
        ],
        }, (err, res) => (err ? reject(err) : resolve(res)));
        instance.on('response', (_client, statusCode, _bytes, ms) => {
          if (statusCode === 202) latencies.push(ms);
        });
      });
      const { rows: status } = await cluster.ledger.query<{ status: string; n: string }>(
        `SELECT CASE WHEN workflow_started_at IS NULL THEN 'queued' ELSE 'started' END AS status, count(*) AS n
         FROM requests WHERE request_id LIKE $1 || '-%' GROUP BY 1`,
        [runId],
      );
      const byStatus = Object.fromEntries(status.map((r) => [r.status, Number(r.n)]));
      const accepted = result.statusCodeStats['202']?.count ?? 0;
      // The backlog the burst left: how long the relays take to start every workflow, and each one's wait.
      const drainStart = Date.now();
      for (let left = byStatus.queued ?? 0; left > 0 && Date.now() - drainStart < 900_000; ) {
        process.stderr.write(`  ${left} queued, draining…\n`);
        await sleep(1_000);
        const { rows: q } = await cluster.ledger.query<{ n: string }>('SELECT count(*) AS n FROM requests WHERE request_id LIKE $1 || \'-%\' AND workflow_started_at IS NULL', [runId]);
        left = Number(q[0].n);
      }
      const drainSeconds = (Date.now() - drainStart) / 1000;
      const { rows: waits } = await cluster.ledger.query<{ n: string; p50: number | null; p99: number | null; max: number | null }>(
        `SELECT count(*) AS n,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM workflow_started_at - received_at)) * 1000 AS p50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM workflow_started_at - received_at)) * 1000 AS p99,
                max(extract(epoch FROM workflow_started_at - received_at)) * 1000 AS max
         FROM requests WHERE request_id LIKE $1 || '-%' AND workflow_started_at IS NOT NULL`,
        [runId],
      );
      rows.push({
        'offered req/s': rate,
        'duration s': result.duration,
        sent: result.requests.sent,
        'accepted (202)': accepted,
        'non-2xx': result.non2xx,
        errors: result.errors,
        'achieved req/s': Math.round((accepted / result.duration) * 10) / 10,
        'p50 ms': round(percentile(latencies, 50)),
        'p95 ms': round(percentile(latencies, 95)),
        'p99 ms': round(percentile(latencies, 99)),
        'max ms': round(percentile(latencies, 100)),
        'started at the end': byStatus.started ?? 0,
        'queued at the end': byStatus.queued ?? 0,
        'started after drain': Number(waits[0].n),
        'lost (202 not in ledger)': Math.max(0, accepted - ((byStatus.started ?? 0) + (byStatus.queued ?? 0))),
        'accept→start p50 ms': round(waits[0].p50 ?? 0),
        'accept→start p99 ms': round(waits[0].p99 ?? 0),
        'accept→start max ms': round(waits[0].max ?? 0),
        'backlog drained in s': round(drainSeconds),
      });
      printTable(`POST /erasures at ${rate} req/s for ${duration} s`, rows.slice(-1));
      await sleep(5_000); // let the worker drain before the next rate
    }
  } finally {
    await cluster.stop();
  }
  printTable('Intake', rows);
  writeResult('intake', { durationSeconds: duration, catalog: 'manual-only (1 manual system)', rows });
});

const round = (n: number) => Math.round(n * 10) / 10;
