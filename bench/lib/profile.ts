/**
 * Where one erasure's cost goes, measured from outside the engine's processes:
 *
 * - CPU of every process tree taking part (worker(s) split by thread, API, Temporal, both PostgreSQL servers,
 *   MinIO, Elasticsearch, the load generator itself), read from /proc before and after a run;
 * - what Temporal did per request, from the closed workflows' histories (workflow tasks, events by type,
 *   activities and local activities by name, search-attribute upserts, timers, history bytes);
 * - statements per request on each database, from `pg_stat_statements` (the servers are started with it
 *   preloaded when profiling).
 *
 * Used by bench/end-to-end.ts (`--profile`, on by default), so the breakdown and the end-to-end ratio come
 * from the same run.
 */
import fs from 'node:fs';
import { temporal as proto } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { pool } from './cluster';
import { readStat, type ProcStat } from './proc';

function allProcesses(): ProcStat[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readStat(`/proc/${d}/stat`))
    .filter((p): p is ProcStat => p !== undefined);
}

/** CPU seconds of a process and everything below it, including exited children it reaped. */
export function treeCpu(rootPid: number, procs = allProcesses()): number {
  const children = new Map<number, ProcStat[]>();
  for (const p of procs) {
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p);
    else children.set(p.ppid, [p]);
  }
  const root = procs.find((p) => p.pid === rootPid);
  if (!root) return 0;
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop()!;
    total += p.cpu + p.childCpu;
    stack.push(...(children.get(p.pid) ?? []));
  }
  return total;
}

/**
 * CPU seconds per thread group of one process: Node's main thread, the workflow thread(s), libuv's thread
 * pool (crypto, DNS), V8's helpers (GC, compiler) and the SDK core's Rust runtime, by thread name.
 */
export function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const s = readStat(`/proc/${pid}/task/${tid}/stat`);
    if (!s) continue;
    const group = Number(tid) === pid ? 'main (activities, SDK bridge)' : threadGroup(s.comm);
    out[group] = (out[group] ?? 0) + s.cpu;
  }
  return out;
}

/** Thread names as Node 22+ sets them (`MainThread` is told apart by its id). Older Node names every thread `node`. */
function threadGroup(comm: string): string {
  if (/^libuv-worker/.test(comm)) return 'libuv pool (crypto, fs, dns)';
  if (/^V8Worker|^V8 /.test(comm)) return 'V8 helpers (GC, compiler)';
  if (/^WorkerThread$/.test(comm)) return 'workflow thread(s)';
  if (/^tokio|core/i.test(comm)) return 'SDK core (Rust)';
  if (/^DelayedTaskSche|^SignalInspector/.test(comm)) return 'Node internals';
  return `other (${comm})`;
}

/** A set of named process trees to measure. */
export type Participants = Record<string, number | undefined>;

export interface CpuSnapshot {
  at: number;
  trees: Record<string, number>;
  threads: Record<string, Record<string, number>>;
}

/** CPU of each participant now; workers (names starting with "worker") also per thread. */
export function cpuSnapshot(participants: Participants): CpuSnapshot {
  const procs = allProcesses();
  const trees: Record<string, number> = {};
  const threads: Record<string, Record<string, number>> = {};
  for (const [name, pid] of Object.entries(participants)) {
    if (pid === undefined) continue;
    trees[name] = treeCpu(pid, procs);
    if (name.startsWith('worker')) threads[name] = threadCpu(pid);
  }
  const own = process.cpuUsage();
  trees['load generator (this process)'] = (own.user + own.system) / 1e6;
  return { at: Date.now(), trees, threads };
}

/** Milliseconds of CPU per request of each participant between two snapshots. */
export function cpuPerRequest(from: CpuSnapshot, to: CpuSnapshot, n: number) {
  const ms = (a: number | undefined, b: number | undefined) => Math.round((((b ?? 0) - (a ?? 0)) * 1000) / n * 10) / 10;
  const trees = Object.fromEntries(Object.keys(to.trees).map((k) => [k, ms(from.trees[k], to.trees[k])]));
  const threads = Object.fromEntries(
    Object.entries(to.threads).map(([w, groups]) => [w, Object.fromEntries(Object.keys(groups).map((g) => [g, ms(from.threads[w]?.[g], groups[g])]))]),
  );
  const total = Object.values(trees).reduce((a, b) => a + b, 0);
  return { wallMsPerRequest: Math.round((to.at - from.at) / n * 10) / 10, totalCpuMsPerRequest: Math.round(total * 10) / 10, trees, threads };
}

const EventType = proto.api.enums.v1.EventType;
const eventName = (t: number | null | undefined) => (EventType[t ?? 0] ?? String(t)).replace(/^EVENT_TYPE_/, '').toLowerCase();

export interface HistoryProfile {
  workflows: number;
  perRequest: {
    events: number;
    historyBytes: number;
    workflowTasks: number;
    activities: number;
    localActivities: number;
    searchAttributeUpserts: number;
    timers: number;
  };
  eventsByType: Record<string, number>;
  activitiesByType: Record<string, number>;
  localActivitiesByType: Record<string, number>;
}

/** Reads the histories of the given workflows (8 at a time) and averages what they hold per request. */
export async function historyProfile(client: Client, workflowIds: string[]): Promise<HistoryProfile> {
  const byType: Record<string, number> = {};
  const activities: Record<string, number> = {};
  const locals: Record<string, number> = {};
  let bytes = 0;
  await pool(workflowIds.length, 8, async (i) => {
    const history = await client.workflow.getHandle(workflowIds[i]).fetchHistory();
    bytes += proto.api.history.v1.History.encode(history).finish().length;
    for (const e of history.events ?? []) {
      const name = eventName(e.eventType);
      byType[name] = (byType[name] ?? 0) + 1;
      const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (scheduled) activities[scheduled] = (activities[scheduled] ?? 0) + 1;
      const marker = e.markerRecordedEventAttributes;
      if (marker?.markerName === 'core_local_activity') {
        const type = localActivityType(marker.details?.data?.payloads?.[0]?.data);
        locals[type] = (locals[type] ?? 0) + 1;
      }
    }
  });
  const n = workflowIds.length;
  const per = (x: number) => Math.round((x / n) * 100) / 100;
  const avg = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort(([, a], [, b]) => b - a).map(([k, v]) => [k, per(v)]));
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  return {
    workflows: n,
    perRequest: {
      events: per(sum(byType)),
      historyBytes: Math.round(bytes / n),
      workflowTasks: per(byType.workflow_task_completed ?? 0),
      activities: per(sum(activities)),
      localActivities: per(sum(locals)),
      searchAttributeUpserts: per(byType.upsert_workflow_search_attributes ?? 0),
      timers: per(byType.timer_started ?? 0),
    },
    eventsByType: avg(byType),
    activitiesByType: avg(activities),
    localActivitiesByType: avg(locals),
  };
}

/** The activity type a local-activity marker's first payload names (it is plain JSON metadata). */
function localActivityType(data: Uint8Array | null | undefined): string {
  if (!data) return 'unknown';
  try {
    const meta = JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string; activityType?: string };
    return meta.activity_type ?? meta.activityType ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `shared_preload_libraries` setting for a PostgreSQL server that profiles statements. */
export const statementProfiling = { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' };

/** Creates the extension (once per server; the view then covers every database) and clears its counters. */
export async function resetStatements(db: Pool): Promise<void> {
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await db.query('SELECT pg_stat_statements_reset()');
}

export interface StatementProfile {
  /** Statements per request by database. */
  perRequest: Record<string, number>;
  /** The most frequent statements per database, with calls per request. */
  top: Record<string, Array<{ perRequest: number; query: string }>>;
}

/** Statements executed since {@link resetStatements}, per request and database (`top` most frequent of each). */
export async function statementProfile(db: Pool, n: number, top = 12): Promise<StatementProfile> {
  const { rows } = await db.query<{ datname: string; calls: string; query: string }>(
    `SELECT d.datname, s.calls::text, s.query FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE s.query NOT ILIKE '%pg_stat_statements%' ORDER BY s.calls DESC`,
  );
  const perRequest: Record<string, number> = {};
  const topOf: StatementProfile['top'] = {};
  for (const r of rows) {
    const calls = Number(r.calls);
    perRequest[r.datname] = (perRequest[r.datname] ?? 0) + calls;
    const list = (topOf[r.datname] ??= []);
    if (list.length < top) list.push({ perRequest: Math.round((calls / n) * 100) / 100, query: r.query.replace(/\s+/g, ' ').slice(0, 160) });
  }
  for (const k of Object.keys(perRequest)) perRequest[k] = Math.round((perRequest[k] / n) * 100) / 100;
  return { perRequest, top: topOf };
}
