/**
 * PostgreSQL connector. Per table entry the subject's rows are found by an identifier or by reference to
 * rows already found (./graph.ts, ./model.ts); the erase resolves every entry's keys into the target
 * database first (./resolve.ts), then deletes or anonymizes them in key batches, one short statement each,
 * rows that point at others before what they point at. Verify, preview and identify resolve the same
 * relations afresh, read-only (./census.ts). Before touching anything it makes sure every declared key is
 * unique and every value can be matched exactly (./shape.ts). Table and column names come only from the
 * catalog and are quoted; values are always query parameters.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { z } from 'zod';
import { postgresTableSchema, type PostgresSystem, type PostgresTable } from './schema';
import { label, parameters, type Op } from './sql';
import { classify } from './errors';
import { tableShapes } from './shape';
import { buildModel, type ErasureModel } from './model';
import { relationProblems, referencesOf } from './graph';
import { AtTable, dropKeys, ensureWorkTables, resolveKeys, workTables } from './resolve';
import { keptShared, passesFor, progressOf, runPass, type PassContext } from './changes';
import { takeCensus } from './census';
import { withClient } from '../../ledger/db';
import { matchCondition } from './match';
import { identifierValue, type DerivedIdentifiers, type EraseResult, type PreviewEntry, type SystemPreview, type SystemTask, type VerifyResult } from '../../domain';
import {
  type CheckableConnector,
  TransientConnectorError,
  activityContext,
  attemptNumber,
  elapsed,
  evidenceFor,
  heartbeat,
  nonRetryable,
  resumeFrom,
  throwIfCancelled,
} from '../connector-kit';

export { REDACTED } from './sql';

export interface PostgresConnectorOptions {
  /** Use this pool instead of creating one from `system.connection` (the connector will not close it). */
  pool?: pg.Pool;
  /** Connections in the pool the connector creates. */
  poolSize?: number;
  /** Called after each committed batch (tests use it to observe batching and to stop a worker mid-way). */
  onBatch?: (b: { table: string; rows: number }) => void;
}

const tablesOf = z.array(postgresTableSchema);

/** What a finished erase stored, so a retried attempt of the same activity answers the same. */
type StoredResult = EraseResult;

/** What one operation did: rows changed and shared rows kept, per entry. */
interface RunOutcome {
  done: number[];
  kept: number[];
  resumed: boolean;
  batches: number;
  model: ErasureModel;
}

/**
 * The id of one erase (or soft delete, or restore) across its retried attempts: inside an activity the
 * workflow run and activity id, which Temporal keeps across retries and changes for the next erase of the
 * same system; outside one (tests, tools), the request, system and operation.
 */
function runIdFor(task: SystemTask, op: Op): { run: string; lineage?: string; retriesShareIt: boolean } {
  const info = activityContext()?.info;
  // An activity that continues one a legal hold stopped takes up its lineage (its activity id, from the
  // progress handed over), so it finds that activity's kept key sets and counts. Only the activity id comes
  // from there: the workflow, run, request, subject and system are this activity's own, so the handed-over
  // progress cannot point this activity at another request's keys.
  const handed = resumeFrom<{ op: Op; lineage?: unknown }>(op)?.lineage;
  const lineage = typeof handed === 'string' && handed.length > 0 && handed.length <= 256 ? handed : info?.activityId;
  const parts = info?.workflowExecution
    ? [info.workflowExecution.workflowId, info.workflowExecution.runId, lineage, task.requestId, task.subjectRef, task.system.id, op]
    : [task.requestId, task.system.id, op];
  return { run: createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 40), lineage, retriesShareIt: info?.workflowExecution !== undefined };
}

/**
 * Builds the connector for one PostgreSQL system. The pool is created on first use.
 * @example const c = postgresConnector(catalogEntry); await c.erase(task); await c.close();
 */
export function postgresConnector(system: PostgresSystem, opts: PostgresConnectorOptions = {}): CheckableConnector {
  let pool = opts.pool;
  const ownsPool = !pool;
  const getPool = () => {
    if (!pool) {
      pool = new pg.Pool({
        connectionString: system.connection,
        max: opts.poolSize ?? 4,
        connectionTimeoutMillis: 10_000,
        idleTimeoutMillis: 30_000,
        lock_timeout: system.lockTimeoutMs,
        statement_timeout: system.statementTimeoutMs,
        application_name: 'erasure-engine',
      });
      // An idle connection dropped by the server must not crash the worker; the next query reconnects.
      pool.on('error', () => undefined);
    }
    return pool;
  };
  const work = workTables(system.workSchema);
  let workReady = false;

  /**
   * The table entries the request's plan snapshot names (what to erase), validated again at the edge: each
   * by the table schema (which refuses an anonymize that leaves the match column unmasked), together by the
   * relation rules (no unknown reference, no cycle).
   */
  const tablesFor = (task: SystemTask): PostgresTable[] => {
    const parsed = tablesOf.safeParse(task.system.spec.tables);
    if (!parsed.success) throw nonRetryable(system.id, 'the plan snapshot has no valid table list');
    const problems = relationProblems(parsed.data);
    if (problems.length) throw nonRetryable(system.id, `the plan snapshot's tables: ${problems.map((p) => p.message).join('; ')}`);
    for (const t of parsed.data) {
      // The plan was frozen at intake; the worker's catalog may have lost its hmacKey since.
      const hmac = t.columns.some((c) => typeof c !== 'string' && c.mask.strategy === 'hmac');
      if (hmac && !system.hmacKey) throw nonRetryable(system.id, `table ${label(t)} uses the hmac mask but the worker's catalog has no hmacKey`);
    }
    return parsed.data;
  };

  const shapes = tableShapes(system.id, getPool);
  /** Per entry, the columns other entries reference in it (they must exist too). */
  const referencedColumns = (tables: PostgresTable[]) => {
    const refs = referencesOf(tables);
    return tables.map((_, i) => refs.filter((r) => r.to === i).map((r) => r.toColumn));
  };

  /**
   * The erasure's model for this subject. Refuses, before anything is changed, when a table's declared key
   * is not unique or a number column could only match a value under another spelling.
   */
  async function modelFor(task: SystemTask, tables: PostgresTable[]): Promise<ErasureModel> {
    const shape = await shapes.require(tables, referencedColumns(tables));
    const model = buildModel(tables, shape, task);
    for (const e of model.entries) {
      for (const c of e.identifiers) {
        if (c.match.ignoreCase) continue;
        for (const v of c.values) await shapes.requireExact(e.table, c.match.column, c.match.identifier, e.shape, v);
      }
    }
    return model;
  }

  /** Runs `fn` on one connection that holds the run's advisory lock, so two attempts never interleave. */
  async function locked<T>(run: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const [a, b] = [parseInt(run.slice(0, 8), 16) | 0, parseInt(run.slice(8, 16), 16) | 0];
    return withClient(getPool(), async (client) => {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int, $2::int) AS ok', [a, b]);
      if (!rows[0].ok) throw new TransientConnectorError(system.id, 'another attempt of this erasure is still running on this database; retrying later');
      try {
        if (!workReady) {
          await ensureWorkTables(client, system.workSchema);
          workReady = true;
        }
        return await fn(client);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1::int, $2::int)', [a, b]).catch(() => undefined);
      }
    });
  }

  /**
   * One operation over every entry: resolve (or, for a retried attempt, reuse) the kept key sets, then change
   * batch by batch in the relations' order. Returns rows changed and shared rows kept per entry, and whether
   * this attempt took up an earlier one; `finish` builds the result stored for a retry of the same lineage.
   */
  async function run(task: SystemTask, op: Op, finish?: (o: RunOutcome) => EraseResult): Promise<RunOutcome & { stored?: StoredResult }> {
    const tables = tablesFor(task);
    const model = await modelFor(task, tables);
    const { run: runId, lineage, retriesShareIt } = runIdFor(task, op);
    try {
      return await locked(runId, async (client) => {
        const prior = (await client.query<{ state: string; result: StoredResult | null }>(`SELECT state, result FROM ${work.runs} WHERE run = $1`, [runId])).rows[0];
        if (prior?.state === 'done' && retriesShareIt && prior.result) return { done: [], kept: [], resumed: true, batches: 0, stored: prior.result, model };
        const resumed = prior?.state === 'resolved';
        // The lineage is on record before any work, so an activity stopped while resolving is taken up too.
        heartbeat({ op, batches: 0, lineage });
        if (!resumed) {
          await dropKeys(client, work, runId);
          await client.query(`INSERT INTO ${work.runs} (run, state) VALUES ($1, 'resolving') ON CONFLICT (run) DO UPDATE SET state = 'resolving', result = NULL, updated_at = now()`, [runId]);
          await resolveKeys(client, model, work, runId, () => throwIfCancelled());
          await client.query(`UPDATE ${work.runs} SET state = 'resolved', updated_at = now() WHERE run = $1`, [runId]);
        }
        let batches = 0;
        let changed = 0;
        let current = '';
        const ctx: PassContext = {
          client,
          model,
          work,
          run: runId,
          hmacKey: system.hmacKey,
          onBatch: (rows) => {
            batches++;
            changed += rows;
            opts.onBatch?.({ table: current, rows });
            // `changed` counts this attempt's rows; what the lineage has done in all is in erasure_progress.
            heartbeat({ op, batches, changed, lineage });
            throwIfCancelled();
          },
        };
        for (const i of model.changes) {
          current = model.entries[i].label;
          for (const pass of passesFor(model.entries[i], op)) await runPass(ctx, model.entries[i], pass);
        }
        const done = await progressOf(client, work, runId, model.entries.length);
        const kept: number[] = [];
        for (const e of model.entries) kept.push(op === 'erase' ? await keptShared(ctx, e) : 0);
        const outcome: RunOutcome = { done, kept, resumed, batches, model };
        const result = finish && retriesShareIt ? JSON.stringify(finish(outcome)) : null;
        await dropKeys(client, work, runId);
        await client.query(`UPDATE ${work.runs} SET state = 'done', result = $2, updated_at = now() WHERE run = $1`, [runId, result]);
        return outcome;
      });
    } catch (err) {
      throw err instanceof AtTable ? classify(system.id, err.cause, err.table) : classify(system.id, err);
    }
  }

  const evidence = (task: SystemTask, op: Op, model: ErasureModel) =>
    evidenceFor(system, task, {
      op,
      entries: model.entries.map((e) => {
        // The conditions with placeholders: names from the catalog, no values.
        const { param } = parameters();
        return { table: e.label, name: e.name, action: e.table.action, onShared: e.table.onShared, match: matchCondition(model, e, 't', param, { kind: 'cte' }) };
      }),
    });

  /** Previewed or verified counts per entry: rows changed, rows kept as shared. */
  const settle = (model: ErasureModel, census: Array<{ rows: number; shared: number }>) =>
    model.entries.map((e, i) => {
      const { rows, shared } = census[i];
      const kept = e.table.onShared === 'keep' ? shared : 0;
      return { changed: rows - kept, kept, sharedChanged: shared - kept };
    });

  return {
    async erase(task): Promise<EraseResult> {
      const started = Date.now();
      const summarize = ({ model, done, kept, resumed, batches }: RunOutcome): EraseResult => {
        const details: Record<string, number> = { durationMs: elapsed(started), batches, attempt: attemptNumber(), resumed: resumed ? 1 : 0 };
        model.entries.forEach((e, i) => {
          details[`rows:${e.label}`] = (details[`rows:${e.label}`] ?? 0) + done[i];
          if (kept[i]) details[`shared:${e.label}`] = (details[`shared:${e.label}`] ?? 0) + kept[i];
        });
        const erased = done.reduce((a, b) => a + b, 0);
        const actions = new Set(model.entries.map((e) => e.table.action));
        return {
          action: actions.size === 1 ? [...actions][0] : 'mixed',
          found: erased + kept.reduce((a, b) => a + b, 0),
          erased,
          evidenceHash: evidence(task, 'erase', model),
          details,
        };
      };
      const out = await run(task, 'erase', summarize);
      return out.stored ?? summarize(out);
    },

    async verify(task): Promise<VerifyResult> {
      const tables = tablesFor(task);
      const model = await modelFor(task, tables);
      let census;
      try {
        census = await takeCensus(getPool(), model, { wide: true });
      } catch (err) {
        throw classify(system.id, err);
      }
      // Shared rows kept on purpose are not remaining; everything else the fresh, wider look finds is.
      return { remaining: settle(model, census).reduce((a, p) => a + p.changed, 0) };
    },

    async preview(task): Promise<SystemPreview> {
      const tables = tablesFor(task);
      const model = await modelFor(task, tables);
      let census;
      try {
        census = await takeCensus(getPool(), model);
      } catch (err) {
        throw classify(system.id, err);
      }
      const plan = settle(model, census);
      const entries: PreviewEntry[] = model.entries.map((e, i) => {
        const target = e.name === e.table.table ? e.label : `${e.label} (${e.name})`;
        const own = plan[i].changed - plan[i].sharedChanged;
        const sharedAs = e.table.onShared === 'erase' ? e.table.action : 'anonymize';
        return {
          target,
          delete: (e.table.action === 'delete' ? own : 0) + (sharedAs === 'delete' ? plan[i].sharedChanged : 0),
          anonymize: (e.table.action === 'anonymize' ? own : 0) + (sharedAs === 'anonymize' ? plan[i].sharedChanged : 0),
          shared: plan[i].kept,
        };
      });
      const derived: Record<string, number> = {};
      for (const [name, values] of Object.entries(provided(task, census))) derived[name] = values.length;
      return { entries, derived };
    },

    async identify(task): Promise<DerivedIdentifiers> {
      const tables = tablesFor(task);
      if (!tables.some((t) => t.provides)) return {};
      const model = await modelFor(task, tables);
      try {
        return provided(task, await takeCensus(getPool(), model));
      } catch (err) {
        throw classify(system.id, err);
      }
    },

    async softDelete(task) {
      const { done } = await run(task, 'softDelete');
      return { affected: done.reduce((a, b) => a + b, 0) };
    },

    async restore(task) {
      const { done } = await run(task, 'restore');
      return { restored: done.reduce((a, b) => a + b, 0) };
    },

    async check() {
      let problems: string[];
      try {
        problems = await shapes.problems(system.tables, referencedColumns(system.tables));
        const { rows } = await getPool().query<{ ok: boolean }>(
          `SELECT CASE WHEN to_regnamespace($1) IS NULL THEN has_database_privilege(current_database(), 'CREATE')
                  ELSE has_schema_privilege($1, 'CREATE') AND has_schema_privilege($1, 'USAGE') END AS ok`,
          [system.workSchema],
        );
        if (!rows[0].ok) problems.push(`the role cannot create the engine's tables in workSchema ${system.workSchema} (grant CREATE on the database, or create the schema and grant CREATE, USAGE on it)`);
      } catch (err) {
        throw classify(system.id, err);
      }
      if (problems.length) throw nonRetryable(system.id, problems.join('; '));
      return `${system.tables.length} table${system.tables.length > 1 ? 's' : ''} with every declared column`;
    },

    async close() {
      if (ownsPool && pool) await pool.end();
      pool = undefined;
    },
  };
}

/** The provided identifiers the census found, for the names the subject does not carry itself. */
function provided(task: SystemTask, census: Array<{ provided: Record<string, string[]> }>): DerivedIdentifiers {
  const out: Record<string, Set<string>> = {};
  for (const c of census) {
    for (const [name, values] of Object.entries(c.provided ?? {})) {
      if (identifierValue(task.subject, name) !== undefined) continue;
      for (const v of values) (out[name] ??= new Set()).add(v);
    }
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v]]));
}
