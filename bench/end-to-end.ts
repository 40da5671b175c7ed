/**
 * End to end: N requests (default 1,000), each erasing one subject from PostgreSQL, MinIO and Elasticsearch
 * (3 automated systems, no grace period, no manual system), timed from the first POST to the last
 * certificate. Baseline: the same deletions issued directly by a plain script against the same seeded data.
 *
 *   npx ts-node bench/end-to-end.ts [--quick] [--requests=1000] [--temporal=dev|postgres] [--workers=1]
 *
 * `--temporal=postgres` runs the real Temporal server on PostgreSQL (src/dev/temporal-server.ts) instead of the dev
 * server; `--workers=2` starts two worker processes sharing the task queue. Results go to
 * `bench/results/end-to-end.json` for the default layout, `end-to-end-<temporal>-<workers>w.json` otherwise.
 */
import { randomBytes } from 'node:crypto';
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { temporal as proto } from '@temporalio/proto';
import { certified, clusterFlags, pool, startCluster, submit, until } from './lib/cluster';
import { cpuPerRequest, cpuSnapshot, historyProfile, resetStatements, statementProfile, statementProfiling, type Participants } from './lib/profile';
import { args, printTable, run, writeResult } from './lib/report';
import { BUCKET, INDEX, esCall, fingerprint, remaining, seed, startTargets, subjectOf, wipe, type Targets } from './lib/targets';

const CONCURRENCY = 16;

run(async () => {
  const a = args();
  const n = a.num('requests', a.quick ? 100 : 1000);
  const layout = clusterFlags(a);
  const resultName = layout.temporal === 'dev' && layout.workers === 1 ? 'end-to-end' : `end-to-end-${layout.temporal}-${layout.workers}w`;
  const targets = await startTargets({ pgSettings: statementProfiling });
  try {
    const tag = `e2e${randomBytes(2).toString('hex')}`;
    const others = `oth${randomBytes(2).toString('hex')}`;
    await seed(targets, others, n);
    const othersBefore = await fingerprint(targets, others);

    // Baseline: a plain script, same seeded data, same concurrency as the submissions.
    await seed(targets, tag, n);
    const seeded = await remaining(targets, tag);
    const targetParticipants = (): Participants => ({ 'target PostgreSQL': targets.pids().postgres, MinIO: targets.pids().minio, Elasticsearch: targets.pids().elasticsearch });
    await resetStatements(targets.db);
    const baseCpu0 = cpuSnapshot(targetParticipants());
    const b0 = Date.now();
    await pool(n, CONCURRENCY, (i) => deleteDirectly(targets, subjectOf(tag, i)));
    await esCall(targets.es.url, 'POST', `/${INDEX}/_refresh`);
    const baselineS = (Date.now() - b0) / 1000;
    const baselineCpu = cpuPerRequest(baseCpu0, cpuSnapshot(targetParticipants()), n);
    const baselineStatements = await statementProfile(targets.db, n);
    const baselineLeft = await remaining(targets, tag);

    // The engine, on the same data seeded again.
    await wipe(targets, tag);
    await seed(targets, tag, n);
    const cluster = await startCluster({ catalog: targets.catalog(), temporal: layout.temporal, workers: layout.workers, pgSettings: statementProfiling });
    let engineS: number;
    let pollers: number;
    let profile: Record<string, unknown>;
    try {
      const participants = (): Participants => ({
        ...Object.fromEntries(cluster.workers.map((w, i) => [i === 0 ? 'worker' : `worker ${i + 1}`, w.pid])),
        API: cluster.api?.pid,
        Temporal: cluster.temporal.process.pid,
        'engine PostgreSQL': cluster.pg.process.pid,
        ...targetParticipants(),
      });
      await resetStatements(cluster.ledger);
      await resetStatements(targets.db);
      const cpu0 = cpuSnapshot(participants());
      const e0 = Date.now();
      await pool(n, CONCURRENCY, (i) => submit(cluster, { requestId: `${tag}-${i}`, jurisdiction: 'GDPR', subject: subjectOf(tag, i) }));
      const submittedS = (Date.now() - e0) / 1000;
      await until(async () => (await certified(cluster, tag)) === n, `${n} certificates`, 60 * 60_000, 500);
      engineS = (Date.now() - e0) / 1000;
      const cpu = cpuPerRequest(cpu0, cpuSnapshot(participants()), n);
      const statements = await statementProfile(cluster.ledger, n);
      const targetStatements = await statementProfile(targets.db, n);
      const history = await historyProfile(await cluster.temporalClient(), Array.from({ length: n }, (_, i) => `erasure-${tag}-${i}`));
      profile = { cpuMsPerRequest: cpu, history, statements: { engineServer: statements, targetServer: targetStatements } };
      printProfile(cpu, baselineCpu, history, statements.perRequest, targetStatements.perRequest, baselineStatements.perRequest);
      pollers = await workflowPollers(cluster);
      printTable('engine', [{ requests: n, temporal: layout.temporal, workers: layout.workers, 'workflow pollers': pollers, 'all submitted after s': submittedS, 'last certificate after s': engineS }]);
    } finally {
      await cluster.stop();
    }
    const engineLeft = await remaining(targets, tag);
    const othersAfter = await fingerprint(targets, others);
    const rows = [
      { run: 'engine (POST → certificate)', requests: n, seconds: round(engineS), 'requests/s': round(n / engineS), 'rows left': engineLeft.rows, 'objects left': engineLeft.objects, 'docs left': engineLeft.docs },
      { run: 'baseline (direct deletes)', requests: n, seconds: round(baselineS), 'requests/s': round(n / baselineS), 'rows left': baselineLeft.rows, 'objects left': baselineLeft.objects, 'docs left': baselineLeft.docs },
    ];
    printTable(`End to end (${layout.temporal} Temporal, ${layout.workers} worker(s)): ${n} requests × (PostgreSQL + MinIO + Elasticsearch); ratio engine/baseline = ${round(engineS / baselineS)}`, rows);
    printTable('Other subjects', [{ ...othersBefore, when: 'before' }, { ...othersAfter, when: 'after' }]);
    writeResult(resultName, {
      requests: n,
      temporal: layout.temporal === 'dev' ? 'dev server (SQLite file)' : 'go.temporal.io/server v1.29.1 on PostgreSQL (4 history shards)',
      workers: layout.workers,
      workflowPollers: pollers!,
      seededPerSubject: { rows: seeded.rows / n, objects: seeded.objects / n, docs: seeded.docs / n },
      concurrency: CONCURRENCY,
      engineSeconds: round(engineS),
      baselineSeconds: round(baselineS),
      ratio: round(engineS / baselineS),
      rows,
      otherSubjectsUntouched: othersBefore.digest === othersAfter.digest,
      otherSubjects: othersAfter,
      profile: profile!,
      baselineProfile: { cpuMsPerRequest: baselineCpu, statements: baselineStatements },
    });
  } finally {
    await targets.stop();
  }
});

/** What a plain script does: delete the rows, the objects under the prefix, and the documents. */
async function deleteDirectly(t: Targets, s: { email: string; userId: string }): Promise<void> {
  await t.db.query('DELETE FROM orders WHERE customer_email = $1', [s.email]);
  await t.db.query('DELETE FROM customers WHERE email = $1', [s.email]);
  const prefix = `users/${encodeURIComponent(s.userId)}/`;
  for (;;) {
    const res = await t.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    if (!res.Contents?.length) break;
    await t.s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: res.Contents.map((o) => ({ Key: o.Key! })), Quiet: true } }));
    if (!res.IsTruncated) break;
  }
  await esCall(t.es.url, 'POST', `/${INDEX}/_delete_by_query?conflicts=proceed`, { query: { term: { user_id: s.userId } } });
}

/** Distinct worker identities polling the workflow task queue: shows that every worker process took part. */
async function workflowPollers(cluster: Awaited<ReturnType<typeof startCluster>>): Promise<number> {
  const client = await cluster.temporalClient();
  const res = await client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: cluster.env.TASK_QUEUE },
    taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return new Set((res.pollers ?? []).map((p) => p.identity)).size;
}

const round = (x: number) => Math.round(x * 100) / 100;

/** The per-request breakdown: CPU by process (and worker thread), Temporal's work, statements by database. */
function printProfile(
  cpu: ReturnType<typeof cpuPerRequest>,
  baseline: ReturnType<typeof cpuPerRequest>,
  history: Awaited<ReturnType<typeof historyProfile>>,
  statements: Record<string, number>,
  targetStatements: Record<string, number>,
  baselineStatements: Record<string, number>,
): void {
  printTable(
    `CPU per request (ms), engine: ${cpu.totalCpuMsPerRequest} in total over ${cpu.wallMsPerRequest} ms of wall time; baseline: ${baseline.totalCpuMsPerRequest} over ${baseline.wallMsPerRequest}`,
    Object.keys(cpu.trees).map((k) => ({ process: k, engine: cpu.trees[k], baseline: baseline.trees[k] })),
  );
  for (const [w, groups] of Object.entries(cpu.threads)) printTable(`${w}: CPU per request by thread (ms)`, Object.entries(groups).map(([g, v]) => ({ thread: g, ms: v })));
  printTable(`Temporal per request (${history.workflows} histories)`, [history.perRequest]);
  printTable('Activities per request', Object.entries(history.activitiesByType).map(([k, v]) => ({ activity: k, scheduled: v })));
  printTable('Local activities per request', Object.entries(history.localActivitiesByType).map(([k, v]) => ({ activity: k, run: v })));
  printTable('Statements per request', [
    ...Object.entries(statements).map(([db, v]) => ({ server: 'engine', database: db, engine: v })),
    ...Object.entries(targetStatements).map(([db, v]) => ({ server: 'target', database: db, engine: v, baseline: baselineStatements[db] })),
  ]);
}
