/**
 * The subject's key sets, resolved before the first change and kept in the target database until the
 * erasure completes, for every entry that others reference: a worker killed after deleting a customer but
 * before her orders, or her address, finds them again on the next attempt through the customer's kept key
 * and address id, though nothing in the database points there any more. Entries nobody references are
 * changed straight from their table (./changes.ts): their rows stay findable through the kept keys.
 * Engine tables in the system's `workSchema`: `erasure_runs` (one row per erase attempt lineage: resolving →
 * resolved → done), `erasure_keys` (per entry, each resolved row's key and the columns others reference, as
 * text) and `erasure_progress` (rows changed so far, counted in the statement that changes them). Every
 * statement is short: resolution walks tables by key and parents by chunks.
 */
import type pg from 'pg';
import type { EntryModel, ErasureModel } from './model';
import { sameType, slotOf, typeOf } from './model';
import { directCondition, pointedAtFromOutside, type Source } from './match';
import { parameters, quote } from './sql';

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
export async function at<T>(e: EntryModel, fn: () => Promise<T>): Promise<T> {
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
  progress: string;
}

export const workTables = (schema: string): WorkTables => ({
  runs: `${quote(schema)}.erasure_runs`,
  keys: `${quote(schema)}.erasure_keys`,
  progress: `${quote(schema)}.erasure_progress`,
});

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
    await client.query(`CREATE TABLE IF NOT EXISTS ${w.progress} (
      run text NOT NULL, entry int NOT NULL, shared boolean NOT NULL, done bigint NOT NULL,
      PRIMARY KEY (run, entry, shared))`);
    // A finished run keeps only its counts, for a retry of the same attempt; a month later nobody asks.
    await client.query(`DELETE FROM ${w.runs} WHERE state = 'done' AND updated_at < now() - interval '30 days'`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** `ARRAY[t."a"::text, …]` over some columns of `row`. */
export const textArray = (row: string, cols: readonly string[]) => (cols.length ? `ARRAY[${cols.map((c) => `${row}.${quote(c)}::text`).join(', ')}]` : `'{}'::text[]`);

/** `t."a" = (k.key[1])::integer AND …`: a live row joined to its resolved key. */
export const keyJoin = (e: EntryModel, row: string, key: string) => e.keys.map((c, i) => `${row}.${quote(c)} = (${key}[${i + 1}])::${e.keyTypes[i]}`).join(' AND ');

/** Rows per resolution batch, and the bounds a chunk of parent keys adapts within. */
const RESOLVE_BATCH = 5000;
const PARENT_CHUNK = { start: 200, min: 1, max: 20_000, target: 20_000 };

/**
 * Resolves the rows of every entry others reference into the key table for run `run`, referenced entries
 * first, then marks those reached by reference that rows outside the subject's set still point at
 * (`shared`). `onProgress` is called after every statement.
 */
export async function resolveKeys(client: pg.ClientBase, model: ErasureModel, w: WorkTables, run: string, onProgress: () => void): Promise<void> {
  const kept = model.resolution.map((i) => model.entries[i]).filter((e) => e.referenced);
  for (const e of kept) {
    await at(e, async () => {
      await resolveDirect(client, e, w, run, onProgress);
      for (const r of e.references) await resolveReference(client, e, model.entries[r.to], r.column, r.toColumn, w, run, onProgress);
    });
  }
  const { rows: sizes } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${w.keys} WHERE run = $1`, [run]);
  // Many keys at once change the key table's statistics: refresh them so the planner keeps using its index.
  if (sizes[0].n > 10_000) await client.query(`ANALYZE ${w.keys}`);
  for (const e of kept) if (e.pointers.length) await at(e, () => markShared(client, model, e, w, run, onProgress));
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
  const slot = slotOf(to, toColumn);
  const raw = `(p.${slot.array}[${slot.position}])`;
  const typed = sameType(e, column, to, toColumn);
  const lhs = typed ? `t.${quote(column)}` : `t.${quote(column)}::text`;
  const value = typed ? `${raw}::${typeOf(e, column)}` : raw;
  let chunk = PARENT_CHUNK.start;
  let cursor: string[] | null = null as string[] | null;
  for (;;) {
    const { params, param } = parameters();
    const runP = param(run);
    const after: string = cursor ? ` AND key > ${param(cursor)}::text[]` : '';
    const text: string = `WITH parents AS (SELECT key, vals FROM ${w.keys} WHERE run = ${runP} AND entry = ${to.index}${after} ORDER BY key LIMIT ${chunk}),
      found AS (SELECT ${textArray('t', e.keys)} AS key, ${textArray('t', e.exported)} AS vals FROM ${e.rel} t
                WHERE ${lhs} IN (SELECT ${value} FROM parents p)),
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
  let chunk = 500;
  for (;;) {
    const started = Date.now();
    const { params, param } = parameters();
    const runP = param(run);
    const src: Source = { kind: 'keys', table: w.keys, run: runP };
    const after: string = cursor ? ` AND key > ${param(cursor)}::text[]` : '';
    const text: string = `WITH chunk AS (SELECT key FROM ${w.keys} WHERE run = ${runP} AND entry = ${e.index} AND NOT direct${after} ORDER BY key LIMIT ${chunk}),
      marked AS (UPDATE ${w.keys} k SET shared = true FROM chunk
        WHERE k.run = ${runP} AND k.entry = ${e.index} AND k.key = chunk.key
          AND EXISTS (SELECT 1 FROM ${e.rel} t WHERE ${keyJoin(e, 't', 'k.key')} AND ${pointedAtFromOutside(model, e, (p) => `t.${quote(p.target)}`, param, src)})
        RETURNING 1)
      SELECT (SELECT count(*) FROM chunk)::int AS seen, (SELECT max(key) FROM chunk) AS last, (SELECT count(*) FROM marked)::int AS marked`;
    const { rows } = await client.query<{ seen: number; last: string[] | null }>(text, params);
    onProgress();
    if (rows[0].seen < chunk) return;
    cursor = rows[0].last;
    // Each row may be pointed at by many: size chunks by time, so every statement stays well under a second.
    const ms = Date.now() - started;
    chunk = ms > 400 ? Math.max(10, Math.floor(chunk / 2)) : ms < 100 ? Math.min(5000, chunk * 2) : chunk;
  }
}

/** Removes every key and progress count of a run, a bounded number per statement. */
export async function dropKeys(client: pg.ClientBase, w: WorkTables, run: string): Promise<void> {
  await client.query(`DELETE FROM ${w.progress} WHERE run = $1`, [run]);
  for (;;) {
    const { rowCount } = await client.query(`DELETE FROM ${w.keys} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${w.keys} WHERE run = $1 LIMIT 20000))`, [run]);
    if (!rowCount) return;
  }
}
