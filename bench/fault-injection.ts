/**
 * Fault injection, on one machine, all traffic on 127.0.0.1, bounded in time (default 15 minutes). Submits N
 * requests (default 1,000; each erases one subject from PostgreSQL, MinIO and Elasticsearch) while:
 *   - the worker is killed with SIGKILL 10 s after each start (once it polls) and restarted at once;
 *   - the Temporal dev server is restarted once, on the same port and SQLite file;
 *   - the target PostgreSQL is stopped for 60 s, then Elasticsearch for 60 s.
 * Then it waits for every request to be certified (until the time bound) and reports: requests certified,
 * requests lost, duplicate workflows, rows/objects/documents of other subjects touched, and the longest time
 * to recover after each fault (see recoveredAt).
 *
 *   npx ts-node bench/fault-injection.ts [--quick] [--requests=1000] [--minutes=15] [--kill-every=10] [--outage=60]
 */
import { randomBytes } from 'node:crypto';
import { certified, pool, startCluster, submit, type Cluster } from './lib/cluster';
import { args, printTable, run, sleep, writeResult } from './lib/report';
import { INDEX, fingerprint, remaining, seed, startTargets, subjectOf, type Targets } from './lib/targets';

interface Fault {
  kind: string;
  startedAt: number;
  endedAt?: number;
  recoveredAt?: number;
}

run(async () => {
  const a = args();
  const n = a.num('requests', a.quick ? 100 : 1000);
  const killEveryS = a.num('kill-every', 10);
  const outageS = a.num('outage', a.quick ? 20 : 60);
  const deadline = Date.now() + a.num('minutes', 15) * 60_000;
  const targets = await startTargets();
  const faults: Fault[] = [];
  const log = (msg: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  try {
    const tag = `fi${randomBytes(2).toString('hex')}`;
    const others = `ot${randomBytes(2).toString('hex')}`;
    await seed(targets, others, Math.max(100, Math.floor(n / 2)));
    await seed(targets, tag, n);
    const othersBefore = await fingerprint(targets, others);
    const cluster = await startCluster({ catalog: targets.catalog(), logLevel: 'error' });
    const t0 = Date.now();
    let faultsOver = false;
    let accepted = 0;
    let queued = 0;
    try {
      // Progress, sampled every 250 ms, to measure recovery: the worker's newest ledger event, and what is
      // left of the subjects in the target PostgreSQL and Elasticsearch (a sample is skipped while one is down).
      const samples: Array<{ t: number; event?: number; rows?: number; docs?: number }> = [];
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          const t = Date.now();
          const [event, left] = await Promise.all([
            cluster.ledger.query<{ id: string | null }>(`SELECT max(id) AS id FROM events WHERE type <> 'received'`).then((r) => Number(r.rows[0].id ?? 0), () => undefined),
            progressOf(targets, tag),
          ]);
          samples.push({ t, event, ...left });
          await sleep(250);
        }
      })();

      // Submissions: spread over the fault window so requests arrive during every fault.
      const submitting = pool(
        n,
        8,
        async (i) => {
          await sleep(Math.max(0, t0 + (i / n) * (outageS * 3 + 30) * 1000 - Date.now()));
          const r = await submit(cluster, { requestId: `${tag}-${i}`, jurisdiction: 'GDPR', subject: subjectOf(tag, i) });
          accepted++;
          if (r.json?.status === 'queued') queued++;
        },
        deadline,
      );

      // The worker: SIGKILL 10 s after it polls, restart at once, until the other faults are over.
      const killer = (async () => {
        while (!faultsOver && Date.now() < deadline) {
          await sleep(killEveryS * 1000);
          if (faultsOver) break;
          const f: Fault = { kind: 'worker SIGKILL', startedAt: Date.now() };
          await cluster.worker!.kill('SIGKILL');
          for (;;) {
            try {
              await cluster.startWorker();
              break;
            } catch {
              if (Date.now() > deadline) return;
              await sleep(1_000); // e.g. Temporal is down right now
            }
          }
          f.endedAt = Date.now();
          faults.push(f);
        }
      })();

      const outage = async (kind: string, stop: () => Promise<void>, start: () => Promise<void>, seconds: number) => {
        const f: Fault = { kind, startedAt: Date.now() };
        log(`${kind}: down`);
        await stop();
        await sleep(seconds * 1000);
        await start();
        f.endedAt = Date.now();
        log(`${kind}: back after ${((f.endedAt - f.startedAt) / 1000).toFixed(1)} s`);
        faults.push(f);
      };
      await sleep(15_000);
      await outage('Temporal dev server restart', () => cluster.stopTemporal(), () => cluster.startTemporal(), 2);
      await sleep(10_000);
      await outage(`target PostgreSQL stopped ${outageS} s`, () => targets.stopPostgres(), () => targets.startPostgres(), outageS);
      await sleep(10_000);
      await outage(`Elasticsearch stopped ${outageS} s`, () => targets.stopElasticsearch(), () => targets.startElasticsearch(), outageS);
      await sleep(10_000);
      faultsOver = true;
      await killer;
      log('faults over; waiting for every request to be certified');
      await submitting;
      while (Date.now() < deadline && (await certified(cluster, tag)) < n) await sleep(1_000);
      await sleep(1_000);
      watching = false;
      await watcher;
      for (const f of faults) f.recoveredAt = recoveredAt(f, samples);

      const certifiedCount = await certified(cluster, tag);
      const ledger = await ledgerState(cluster, tag);
      const duplicates = await duplicateWorkflows(cluster, tag);
      const left = await remaining(targets, tag);
      const othersAfter = await fingerprint(targets, others);
      const elapsedS = (Date.now() - t0) / 1000;
      const recovery = summarizeRecovery(faults);
      const lost = n - ledger.inLedger; // accepted by the API yet unknown to the ledger
      const unfinished = ledger.inLedger - certifiedCount;
      const summary = {
        'requests submitted': n,
        'accepted (200/202)': accepted,
        'of which queued (Temporal down)': queued,
        certified: certifiedCount,
        'lost (accepted, not in ledger)': lost,
        'unfinished at time bound': unfinished,
        'duplicate workflows': duplicates,
        'other subjects rows/objects/docs touched': othersBefore.digest === othersAfter.digest ? 0 : 'CHANGED',
        'subject data left (rows/objects/docs)': `${left.rows}/${left.objects}/${left.docs}`,
        'worker kills': faults.filter((f) => f.kind === 'worker SIGKILL').length,
        'elapsed s': Math.round(elapsedS),
      };
      printTable(`Fault injection: ${n} requests`, [summary]);
      printTable('Longest time to recover after each fault (see bench/README.md for what "recovered" means per fault)', recovery);
      writeResult(a.quick ? 'fault-injection-quick' : 'fault-injection', {
        requests: n,
        killEverySeconds: killEveryS,
        outageSeconds: outageS,
        timeBoundMinutes: a.num('minutes', 15),
        summary,
        unfinishedByStatus: ledger.byStatus,
        recovery,
        otherSubjects: { before: othersBefore, after: othersAfter },
        faults: faults.map((f) => ({ kind: f.kind, startedAtS: rel(f.startedAt, t0), endedAtS: rel(f.endedAt, t0), recoveredAtS: rel(f.recoveredAt, t0) })),
      });
    } finally {
      faultsOver = true;
      await cluster.stop();
    }
  } finally {
    await targets.stop();
  }
});

/**
 * When work resumed after a fault. Worker kill: from the kill to the first ledger event the restarted worker
 * wrote. Temporal restart: from the server being back to the next ledger event. Target PostgreSQL or
 * Elasticsearch outage: from the server being back to the first sample where the subjects' data there shrank.
 */
function recoveredAt(f: Fault, samples: Array<{ t: number; event?: number; rows?: number; docs?: number }>): number | undefined {
  const key = f.kind.startsWith('target PostgreSQL') ? 'rows' : f.kind.startsWith('Elasticsearch') ? 'docs' : 'event';
  const before = samples.filter((s) => s.t <= f.endedAt! && s[key] !== undefined).at(-1)?.[key];
  if (before === undefined) return undefined;
  const changed = samples.find((s) => s.t > f.endedAt! && s[key] !== undefined && (key === 'event' ? s[key]! > before : s[key]! < before));
  return changed?.t;
}

/** What is left of the subjects in PostgreSQL and Elasticsearch; undefined for a system that is down. */
async function progressOf(t: Targets, tag: string): Promise<{ rows?: number; docs?: number }> {
  const rows = await t.db
    .query<{ n: string }>(`SELECT count(*) AS n FROM customers WHERE email LIKE $1`, [`${tag}-%`])
    .then((r) => Number(r.rows[0].n), () => undefined);
  const docs = await fetch(`${t.es.url}/${INDEX}/_count`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: { prefix: { user_id: `${tag}-u` } } }),
    signal: AbortSignal.timeout(2_000),
  })
    .then(async (r) => (r.ok ? ((await r.json()) as { count: number }).count : undefined))
    .catch(() => undefined);
  return { rows, docs };
}

const rel = (t: number | undefined, t0: number) => (t === undefined ? null : Math.round((t - t0) / 100) / 10);

function summarizeRecovery(faults: Fault[]) {
  const kinds = [...new Set(faults.map((f) => f.kind))];
  return kinds.map((kind) => {
    const of = faults.filter((f) => f.kind === kind);
    // A worker's recovery includes its restart; the other faults count from the server being back.
    const from = (f: Fault) => (kind === 'worker SIGKILL' ? f.startedAt : f.endedAt!);
    const times = of.map((f) => (f.recoveredAt === undefined ? Infinity : (f.recoveredAt - from(f)) / 1000));
    const longest = Math.max(...times);
    const restart = Math.max(...of.map((f) => (f.endedAt! - f.startedAt) / 1000));
    return {
      fault: kind,
      occurrences: of.length,
      'longest down s': Math.round(restart * 10) / 10,
      'longest recovery s': Number.isFinite(longest) ? Math.round(longest * 10) / 10 : 'no progress seen after it',
    };
  });
}

async function ledgerState(cluster: Cluster, tag: string): Promise<{ inLedger: number; byStatus: Record<string, number> }> {
  const { rows } = await cluster.ledger.query<{ status: string; n: string }>(
    `SELECT CASE WHEN certificate_id IS NULL THEN status ELSE 'certified' END AS status, count(*) AS n FROM requests WHERE request_id LIKE $1 || '-%' GROUP BY 1`,
    [tag],
  );
  const byStatus = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  return { inLedger: rows.reduce((s, r) => s + Number(r.n), 0), byStatus };
}

/** Workflow ids with more than one execution that was not a continue-as-new hand-over. */
async function duplicateWorkflows(cluster: Cluster, tag: string): Promise<number> {
  const client = await cluster.temporalClient();
  const runs = new Map<string, number>();
  for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "erasure-${tag}-"` })) {
    if (wf.status.name === 'CONTINUED_AS_NEW') continue;
    runs.set(wf.workflowId, (runs.get(wf.workflowId) ?? 0) + 1);
  }
  return [...runs.values()].filter((c) => c > 1).length;
}
