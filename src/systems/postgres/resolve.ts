/**
 * The subject's key sets, resolved before the first change and kept in the target database until the
 * erasure completes, so a worker killed after deleting a customer but before its address finds the address
 * again on the next attempt (nothing points at it any more by then). Two engine tables in the system's
 * `workSchema`: `erasure_runs` (one row per erase attempt lineage: resolving → resolved → done) and
 * `erasure_keys` (per entry, each resolved row's key and the columns others reference, as text). Every
 * statement here is short: resolution walks tables by key and parents by chunks, changes go batch by batch,
 * and each change marks its keys done in the same statement, so a retried attempt resumes exactly.
 */
import type pg from 'pg';
import type { EntryModel, ErasureModel } from './model';
import { typeOf } from './model';
import { directCondition, matchCondition, pointedAtFromOutside, type Source } from './match';
import { maskAssignments, parameters, quote, type Op } from './sql';

/** A failure raised while working on one entry's table, so the message can name it. */
export class AtTable extends Error {
  constructor(
    readonly table: EntryModel['table'],
    override readonly cause: unknown,
  ) {
    super('failed at a table');
  }
}

/** Runs `fn`, tagging a failure with `e`'s table. */
async function at<T>(e: EntryModel, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof AtTable ? err : new AtTable(e.table, err);
  }
}

/** The engine's tables in one system's database. */
export interface WorkTables {
  runs: string;
  keys: string;
}

export const workTables = (schema: string): WorkTables => ({ runs: `${quote(schema)}.erasure_runs`, keys: `${quote(schema)}.erasure_keys` });

/**
 * Creates the work schema and tables if absent. Serialised by a transaction-level advisory lock, so two
 * workers starting at once do not race on CREATE … IF NOT EXISTS.
 */
export async function ensureWorkTables(client: pg.ClientBase, schema: string): Promise<void> {
  const w = workTables(schema);
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('erasure-engine work tables'))");
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(schema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${w.runs} (
      run text PRIMARY KEY, state text NOT NULL, counts jsonb, result jsonb,
      created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${w.keys} (
      run text NOT NULL, entry int NOT NULL, key text[] NOT NULL, vals text[] NOT NULL DEFAULT '{}',
      direct boolean NOT NULL, shared boolean NOT NULL DEFAULT false, done boolean NOT NULL DEFAULT false,
      PRIMARY KEY (run, entry, key))`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** `ARRAY[t."a"::text, …]` over some columns of `row`. */
const textArray = (row: string, cols: readonly string[]) => (cols.length ? `ARRAY[${cols.map((c) => `${row}.${quote(c)}::text`).join(', ')}]` : `'{}'::text[]`);

/** `t."a" = (k.key[1])::integer AND …`: a live row joined to its resolved key. */
const keyJoin = (e: EntryModel, row: string, key: string) => e.keys.map((c, i) => `${row}.${quote(c)} = (${key}[${i + 1}])::${e.keyTypes[i]}`).join(' AND ');

/** Rows per resolution batch, and the bounds a chunk of parent keys adapts within. */
const RESOLVE_BATCH = 5000;
const PARENT_CHUNK = { start: 200, min: 1, max: 20_000, target: 20_000 };

/**
 * Resolves every entry's rows into the key table for run `run`, referenced entries first, then marks the
 * rows reached by reference that rows outside the subject's set still point at (`shared`). Returns per entry
 * the rows found and how many of them are shared. `onProgress` is called after every statement.
 */
export async function resolveKeys(client: pg.ClientBase, model: ErasureModel, w: WorkTables, run: string, onProgress: () => void): Promise<Array<{ rows: number; shared: number }>> {
  for (const i of model.resolution) {
    const e = model.entries[i];
    await at(e, async () => {
      await resolveDirect(client, e, w, run, onProgress);
      for (const r of e.references) await resolveReference(client, e, model.entries[r.to], r.column, r.toColumn, w, run, onProgress);
    });
  }
  for (const e of model.entries) if (e.pointers.length) await at(e, () => markShared(client, model, e, w, run, onProgress));
  const { rows } = await client.query<{ entry: number; rows: number; shared: number }>(
    `SELECT entry, count(*)::int AS rows, count(*) FILTER (WHERE shared)::int AS shared FROM ${w.keys} WHERE run = $1 GROUP BY entry`,
    [run],
  );
  const counts = model.entries.map(() => ({ rows: 0, shared: 0 }));
  for (const r of rows) counts[r.entry] = { rows: r.rows, shared: r.shared };
  return counts;
}

/** The rows an entry's identifier matches find, by key order, batch by batch. */
async function resolveDirect(client: pg.ClientBase, e: EntryModel, w: WorkTables, run: string, onProgress: () => void): Promise<void> {
  let cursor: string[] | null = null as string[] | null;
  for (;;) {
    const { params, param } = parameters();
    const cond = directCondition(e, 't', param);
    if (!cond) return;
    const keyTuple = `(${e.keys.map((k) => `t.${quote(k)}`).join(', ')})`;
    const after: string = cursor ? ` AND ${keyTuple} > (${cursor.map((c, i) => `${param(c)}::${e.keyTypes[i]}`).join(', ')})` : '';
    const text: string = `WITH found AS (
        SELECT ${textArray('t', e.keys)} AS key, ${textArray('t', e.exported)} AS vals, row_number() OVER (ORDER BY ${e.keys.map((k) => `t.${quote(k)}`).join(', ')}) AS ord
        FROM ${e.rel} t WHERE ${cond}${after} ORDER BY ${e.keys.map((k) => `t.${quote(k)}`).join(', ')} LIMIT ${RESOLVE_BATCH}),
      ins AS (INSERT INTO ${w.keys} (run, entry, key, vals, direct) SELECT ${param(run)}, ${e.index}, key, vals, true FROM found
              ON CONFLICT (run, entry, key) DO UPDATE SET direct = true)
      SELECT (SELECT count(*) FROM found)::int AS seen, (SELECT key FROM found ORDER BY ord DESC LIMIT 1) AS last`;
    const { rows } = await client.query<{ seen: number; last: string[] | null }>(text, params);
    onProgress();
    if (rows[0].seen < RESOLVE_BATCH) return;
    cursor = rows[0].last;
  }
}

/**
 * The rows of `e` whose `column` holds a value of `to`'s rows already resolved, walking `to`'s keys in
 * chunks; a chunk grows or shrinks so each statement adds about `PARENT_CHUNK.target` rows (one customer's
 * million order items stay many short statements).
 */
async function resolveReference(client: pg.ClientBase, e: EntryModel, to: EntryModel, column: string, toColumn: string, w: WorkTables, run: string, onProgress: () => void): Promise<void> {
  const k = to.keys.indexOf(toColumn);
  const value = k >= 0 ? `(p.key[${k + 1}])` : `(p.vals[${to.exported.indexOf(toColumn) + 1}])`;
  let chunk = PARENT_CHUNK.start;
  let cursor: string[] | null = null as string[] | null;
  for (;;) {
    const { params, param } = parameters();
    const runP = param(run);
    const after: string = cursor ? ` AND key > ${param(cursor)}::text[]` : '';
    const text: string = `WITH parents AS (SELECT key, vals FROM ${w.keys} WHERE run = ${runP} AND entry = ${to.index}${after} ORDER BY key LIMIT ${chunk}),
      found AS (SELECT ${textArray('t', e.keys)} AS key, ${textArray('t', e.exported)} AS vals FROM ${e.rel} t
                WHERE t.${quote(column)} IN (SELECT ${value}::${typeOf(e, column)} FROM parents p)),
      ins AS (INSERT INTO ${w.keys} (run, entry, key, vals, direct) SELECT ${runP}, ${e.index}, key, vals, false FROM found ON CONFLICT DO NOTHING)
      SELECT (SELECT count(*) FROM parents)::int AS parents, (SELECT max(key) FROM parents) AS last, (SELECT count(*) FROM found)::int AS found`;
    const { rows } = await client.query<{ parents: number; last: string[] | null; found: number }>(text, params);
    onProgress();
    if (rows[0].parents < chunk) return;
    cursor = rows[0].last;
    const per = rows[0].found / Math.max(1, rows[0].parents);
    chunk = Math.max(PARENT_CHUNK.min, Math.min(PARENT_CHUNK.max, Math.floor(PARENT_CHUNK.target / Math.max(per, 1))));
  }
}

/** Flags the rows of `e` reached only by reference that a row outside the subject's set points at. */
async function markShared(client: pg.ClientBase, model: ErasureModel, e: EntryModel, w: WorkTables, run: string, onProgress: () => void): Promise<void> {
  let cursor: string[] | null = null as string[] | null;
  for (;;) {
    const { params, param } = parameters();
    const runP = param(run);
    const src: Source = { kind: 'keys', table: w.keys, run: runP };
    const after: string = cursor ? ` AND key > ${param(cursor)}::text[]` : '';
    const text: string = `WITH chunk AS (SELECT key FROM ${w.keys} WHERE run = ${runP} AND entry = ${e.index} AND NOT direct${after} ORDER BY key LIMIT ${RESOLVE_BATCH}),
      marked AS (UPDATE ${w.keys} k SET shared = true FROM chunk
        WHERE k.run = ${runP} AND k.entry = ${e.index} AND k.key = chunk.key
          AND EXISTS (SELECT 1 FROM ${e.rel} t WHERE ${keyJoin(e, 't', 'k.key')} AND ${pointedAtFromOutside(model, e, (p) => `t.${quote(p.target)}`, src)})
        RETURNING 1)
      SELECT (SELECT count(*) FROM chunk)::int AS seen, (SELECT max(key) FROM chunk) AS last, (SELECT count(*) FROM marked)::int AS marked`;
    const { rows } = await client.query<{ seen: number; last: string[] | null }>(text, params);
    onProgress();
    if (rows[0].seen < RESOLVE_BATCH) return;
    cursor = rows[0].last;
  }
}

/** What one pass over an entry's resolved rows does: the table's action, or the shared rows' `onShared`. */
export type Change = 'delete' | 'anonymize' | 'softDelete' | 'restore';

/** The passes an operation makes over an entry: its own rows, then the shared ones unless kept. */
export function passesFor(e: EntryModel, op: Op): Array<{ shared: boolean; change: Change }> {
  if (op !== 'erase') return e.table.softDeleteColumn ? [{ shared: false, change: op }] : [];
  const passes: Array<{ shared: boolean; change: Change }> = [{ shared: false, change: e.table.action }];
  if (e.pointers.length && e.table.onShared !== 'keep') passes.push({ shared: true, change: e.table.onShared === 'erase' ? e.table.action : 'anonymize' });
  return passes;
}

/**
 * One batch of one pass: lock up to `limit` of the subject's rows not yet done, change them (the subject's
 * match condition repeated on the row itself, so a row that stopped matching is left alone) and mark their
 * keys done, all in one statement, hence one short transaction. Keys nobody references are deleted instead.
 * Returns rows changed and keys taken (fewer than `limit`: the pass is over).
 */
export async function changeBatch(
  client: pg.ClientBase,
  model: ErasureModel,
  e: EntryModel,
  w: WorkTables,
  run: string,
  pass: { shared: boolean; change: Change },
  limit: number,
  hmacKey: string | undefined,
): Promise<{ n: number; seen: number }> {
  const { params, param } = parameters();
  const runP = param(run);
  const src: Source = { kind: 'keys', table: w.keys, run: runP };
  const t = e.table;
  const match = matchCondition(model, e, 't', param, src);
  const state = pass.change === 'softDelete' ? ` AND t.${quote(t.softDeleteColumn!)} IS NULL` : pass.change === 'restore' ? ` AND t.${quote(t.softDeleteColumn!)} IS NOT NULL` : '';
  const keyCols = e.keys.map((k) => `t.${quote(k)}`).join(', ');
  const same = e.keys.map((k) => `t.${quote(k)} = target.${quote(k)}`).join(' AND ');
  let change: string;
  if (pass.change === 'delete') change = `DELETE FROM ${e.rel} AS t USING target WHERE ${same} AND ${match} RETURNING 1`;
  else if (pass.change === 'anonymize') change = `UPDATE ${e.rel} AS t SET ${maskAssignments(t, 't', param, hmacKey)} FROM target WHERE ${same} AND ${match} RETURNING 1`;
  else change = `UPDATE ${e.rel} AS t SET ${quote(t.softDeleteColumn!)} = ${pass.change === 'softDelete' ? 'now()' : 'NULL'} FROM target WHERE ${same} AND ${match}${state} RETURNING 1`;
  const finish = e.referenced
    ? `UPDATE ${w.keys} k SET done = true FROM batch WHERE k.run = ${runP} AND k.entry = ${e.index} AND k.key = batch.key RETURNING 1`
    : `DELETE FROM ${w.keys} k USING batch WHERE k.run = ${runP} AND k.entry = ${e.index} AND k.key = batch.key RETURNING 1`;
  const text = `WITH batch AS (SELECT key FROM ${w.keys} WHERE run = ${runP} AND entry = ${e.index} AND NOT done AND shared = ${pass.shared} ORDER BY key LIMIT ${limit}),
    target AS (SELECT ${keyCols} FROM ${e.rel} t JOIN batch b ON ${keyJoin(e, 't', 'b.key')} WHERE ${match}${state} FOR UPDATE OF t),
    changed AS (${change}),
    finished AS (${finish})
    SELECT (SELECT count(*) FROM changed)::int AS n, (SELECT count(*) FROM batch)::int AS seen, (SELECT count(*) FROM finished)::int AS finished`;
  const { rows } = await at(e, () => client.query<{ n: number; seen: number }>(text, params));
  return rows[0];
}

/** Removes every key of a run, a bounded number per statement. */
export async function dropKeys(client: pg.ClientBase, w: WorkTables, run: string): Promise<void> {
  for (;;) {
    const { rowCount } = await client.query(`DELETE FROM ${w.keys} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${w.keys} WHERE run = $1 LIMIT 20000))`, [run]);
    if (!rowCount) return;
  }
}
