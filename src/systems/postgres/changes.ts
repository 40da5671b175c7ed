/**
 * The changes of one PostgreSQL erasure, entry by entry in the relations' order, batch by batch. Each batch
 * is one statement, hence one short transaction: it locks up to `batchSize` of the subject's rows, deletes,
 * masks or (un)marks them with the subject's match condition repeated on the row itself (a row that stopped
 * matching is left alone), and adds what it changed to the run's progress count, so counts survive a crash
 * exactly. Entries others reference take their batches from their kept keys (./resolve.ts) and mark them
 * done; the others are read straight from their table, by identifier or through a chunk of the referenced
 * entry's kept keys at a time, in key order.
 */
import type pg from 'pg';
import { sameType, slotOf, typeOf, type EntryModel, type ErasureModel } from './model';
import { directCondition, matchCondition, sharedCondition, type Source } from './match';
import { at, keyJoin, textArray, type WorkTables } from './resolve';
import { maskAssignments, parameters, quote, type Op, type Param } from './sql';

/** What one pass over an entry's rows does: the table's action, or the shared rows' `onShared`. */
export type Change = 'delete' | 'anonymize' | 'softDelete' | 'restore';

export interface Pass {
  shared: boolean;
  change: Change;
}

/** The passes an operation makes over an entry: its own rows, then the shared ones unless they are kept. */
export function passesFor(e: EntryModel, op: Op): Pass[] {
  if (op !== 'erase') return e.table.softDeleteColumn ? [{ shared: false, change: op }] : [];
  const passes: Pass[] = [{ shared: false, change: e.table.action }];
  if (e.pointers.length && e.table.onShared !== 'keep') passes.push({ shared: true, change: e.table.onShared === 'erase' ? e.table.action : 'anonymize' });
  return passes;
}

export interface PassContext {
  client: pg.ClientBase;
  model: ErasureModel;
  work: WorkTables;
  run: string;
  hmacKey: string | undefined;
  /** Called after every batch with the rows it changed; may throw to stop (cancellation). */
  onBatch: (rows: number) => void;
}

/** The change statement on `t` for the rows in CTE `target` (columns named as the key). */
function changeClause(e: EntryModel, pass: Pass, match: string, param: Param, hmacKey: string | undefined): string {
  const t = e.table;
  const same = e.keys.map((k) => `t.${quote(k)} = target.${quote(k)}`).join(' AND ');
  if (pass.change === 'delete') return `DELETE FROM ${e.rel} AS t USING target WHERE ${same} AND ${match} RETURNING 1`;
  if (pass.change === 'anonymize') return `UPDATE ${e.rel} AS t SET ${maskAssignments(t, 't', param, hmacKey)} FROM target WHERE ${same} AND ${match} RETURNING 1`;
  const value = pass.change === 'softDelete' ? 'now()' : 'NULL';
  return `UPDATE ${e.rel} AS t SET ${quote(t.softDeleteColumn!)} = ${value} FROM target WHERE ${same} AND ${match}${softState(e, pass, 't')} RETURNING 1`;
}

/** Soft delete takes rows not yet marked; restore takes marked ones. */
function softState(e: EntryModel, pass: Pass, row: string): string {
  if (pass.change === 'softDelete') return ` AND ${row}.${quote(e.table.softDeleteColumn!)} IS NULL`;
  if (pass.change === 'restore') return ` AND ${row}.${quote(e.table.softDeleteColumn!)} IS NOT NULL`;
  return '';
}

/** Adds the batch's changed rows to the run's progress, in the same statement. */
const counted = (w: WorkTables, runP: string, e: EntryModel, pass: Pass) =>
  `counted AS (INSERT INTO ${w.progress} (run, entry, shared, done) SELECT ${runP}, ${e.index}, ${pass.shared}, count(*) FROM changed
     ON CONFLICT (run, entry, shared) DO UPDATE SET done = ${w.progress}.done + EXCLUDED.done RETURNING 1)`;

/** What a batch statement answers: rows changed, rows taken, the last key taken. */
interface BatchRow {
  n: number;
  seen: number;
  last: string[] | null;
}

/**
 * The rows per batch, starting at the entry's `batchSize`: halved after a statement that took over a second
 * (foreign-key checks against many rows just deleted can make a batch of parents slow), grown back after quick
 * ones, never above `batchSize`. Keeps every transaction short whatever the rows cost.
 */
function batchSizer(batchSize: number) {
  let size = batchSize;
  return {
    get size() {
      return size;
    },
    took(ms: number) {
      if (ms > 1000) size = Math.max(1, Math.floor(size / 2));
      else if (ms < 250) size = Math.min(batchSize, size * 2);
    },
  };
}

/** What every batch statement starts from: its parameters (the run id first), the key table and the match. */
function statementStart(ctx: PassContext, e: EntryModel, limit: number) {
  const started = Date.now();
  const { params, param } = parameters();
  const runP = param(ctx.run);
  const src: Source = { kind: 'keys', table: ctx.work.keys, run: runP };
  return { limit, started, params, param, runP, src, match: matchCondition(ctx.model, e, 't', param, src) };
}

/** Runs one pass over an entry to its end. */
export async function runPass(ctx: PassContext, e: EntryModel, pass: Pass): Promise<void> {
  if (e.referenced) return keptPass(ctx, e, pass);
  const direct = directCondition(e, 't', parameters().param);
  if (direct) await tablePass(ctx, e, pass, undefined);
  for (const r of e.references) await tablePass(ctx, e, pass, r.to);
}

/** A pass over an entry whose keys are kept: batches of keys not yet done, in key order. */
async function keptPass(ctx: PassContext, e: EntryModel, pass: Pass): Promise<void> {
  const { client, model, work: w, run } = ctx;
  const sizer = batchSizer(e.table.batchSize);
  for (let cursor: string[] | null = null; ; ) {
    const { limit, started, params, param, runP, src, match } = statementStart(ctx, e, sizer.size);
    const after: string = cursor ? ` AND key > ${param(cursor)}::text[]` : '';
    const text: string = `WITH batch AS (SELECT key FROM ${w.keys} WHERE run = ${runP} AND entry = ${e.index} AND NOT done AND shared = ${pass.shared}${after} ORDER BY key LIMIT ${limit}),
      target AS (SELECT ${e.keys.map((k) => `t.${quote(k)}`).join(', ')} FROM ${e.rel} t JOIN batch b ON ${keyJoin(e, 't', 'b.key')} WHERE ${match}${softState(e, pass, 't')} FOR UPDATE OF t),
      changed AS (${changeClause(e, pass, match, param, ctx.hmacKey)}),
      finished AS (UPDATE ${w.keys} k SET done = true FROM batch WHERE k.run = ${runP} AND k.entry = ${e.index} AND k.key = batch.key RETURNING 1),
      ${counted(w, runP, e, pass)}
      SELECT (SELECT count(*) FROM changed)::int AS n, (SELECT count(*) FROM batch)::int AS seen, (SELECT max(key) FROM batch) AS last,
        (SELECT count(*) FROM finished)::int AS finished, (SELECT count(*) FROM counted)::int AS counted`;
    const { rows }: { rows: BatchRow[] } = await at(e, () => client.query<BatchRow>(text, params));
    sizer.took(Date.now() - started);
    ctx.onBatch(rows[0].n);
    if (rows[0].seen < limit) return;
    cursor = rows[0].last;
  }
}

/**
 * A pass over an entry read straight from its table, in key order: the rows its identifiers match
 * (`via` undefined), or those reached through entry `via`'s kept keys, a chunk of them at a time so each
 * batch sorts only that chunk's rows. Chunks adapt to hold about one batch.
 */
async function tablePass(ctx: PassContext, e: EntryModel, pass: Pass, via: number | undefined): Promise<void> {
  const { client, model, work: w, run } = ctx;
  const sizer = batchSizer(e.table.batchSize);
  const keyCols = e.keys.map((k) => `t.${quote(k)}`).join(', ');
  const ref = via === undefined ? undefined : e.references.find((r) => r.to === via)!;
  let chunk = 16;
  let lo: string[] | null = null;
  for (;;) {
    // The next chunk of the referenced entry's kept keys, and the values this entry's column must hold.
    let values: string[] = [];
    if (ref) {
      const to = model.entries[ref.to];
      const slot = slotOf(to, ref.toColumn);
      const next = await at(e, () =>
        client.query<{ key: string[]; v: string | null }>(
          `SELECT key, ${slot.array}[${slot.position}] AS v FROM ${w.keys} WHERE run = $1 AND entry = ${ref.to}${lo ? ' AND key > $2::text[]' : ''} ORDER BY key LIMIT ${chunk}`,
          lo ? [run, lo] : [run],
        ),
      );
      if (next.rows.length === 0) return;
      lo = next.rows[next.rows.length - 1].key;
      values = [...new Set(next.rows.flatMap((r) => (r.v === null ? [] : [r.v])))];
    }
    let changedInChunk = 0;
    for (let cursor: string[] | null = null; ref === undefined || values.length > 0; ) {
      const { limit, started, params, param, runP, src, match } = statementStart(ctx, e, sizer.size);
      let scope: string;
      if (ref) {
        // The values as one array parameter: the planner sees how many there are and uses the column's index.
        scope = sameType(e, ref.column, model.entries[ref.to], ref.toColumn)
          ? `t.${quote(ref.column)} = ANY(${param(values)}::${typeOf(e, ref.column)}[])`
          : `t.${quote(ref.column)}::text = ANY(${param(values)}::text[])`;
      } else {
        scope = directCondition(e, 't', param)!;
      }
      const shared = e.pointers.length ? ` AND ${pass.shared ? '' : 'NOT '}${sharedCondition(model, e, 't', param, src)}` : pass.shared ? ' AND false' : '';
      const after: string = cursor ? ` AND (${keyCols}) > (${cursor.map((c, i) => `${param(c)}::${e.keyTypes[i]}`).join(', ')})` : '';
      // Through a reference, the chunk's rows are gathered first by the column's index, in a CTE the planner
      // cannot fold, then ordered: otherwise "ORDER BY key LIMIT" after a cursor invites a walk along the whole
      // primary key. The scope is this very reference, so the DELETE/UPDATE alone repeats the whole match. By
      // identifier, the planner's own choice has always been right.
      const pick = ref
        ? `candidates AS MATERIALIZED (SELECT ${keyCols} FROM ${e.rel} t WHERE ${scope}),
          picked AS (SELECT * FROM candidates t WHERE true${after} ORDER BY ${keyCols} LIMIT ${limit}),
          target AS (SELECT ${keyCols} FROM ${e.rel} t JOIN picked c ON ${e.keys.map((k) => `t.${quote(k)} = c.${quote(k)}`).join(' AND ')}
            WHERE true${shared}${softState(e, pass, 't')} FOR UPDATE OF t)`
        : `target AS (SELECT ${keyCols} FROM ${e.rel} t WHERE ${scope} AND ${match}${shared}${softState(e, pass, 't')}${after}
          ORDER BY ${keyCols} LIMIT ${limit} FOR UPDATE OF t)`;
      // What the batch took from the candidates, shared rows included: fewer than `limit` ends the chunk.
      const taken = ref ? 'picked' : 'target';
      const text: string = `WITH ${pick},
        changed AS (${changeClause(e, pass, match, param, ctx.hmacKey)}),
        ${counted(w, runP, e, pass)}
        SELECT (SELECT count(*) FROM changed)::int AS n, (SELECT count(*) FROM ${taken})::int AS seen,
          (SELECT ${textArray(taken, e.keys)} FROM ${taken} ORDER BY ${e.keys.map((k) => `${taken}.${quote(k)} DESC`).join(', ')} LIMIT 1) AS last,
          (SELECT count(*) FROM counted)::int AS counted`;
      const { rows }: { rows: BatchRow[] } = await at(e, () => client.query<BatchRow>(text, params));
      sizer.took(Date.now() - started);
      ctx.onBatch(rows[0].n);
      changedInChunk += rows[0].seen;
      if (rows[0].seen < limit) break;
      cursor = rows[0].last;
    }
    if (!ref) return;
    const perParent = changedInChunk / chunk;
    // A little under one batch per chunk, so a chunk usually ends in the batch that changes it.
    chunk = Math.max(1, Math.min(10_000, Math.floor((sizer.size * 0.9) / Math.max(perParent, 1 / 64))));
  }
}

/** Rows changed so far per entry (own and shared passes together), from the run's progress. */
export async function progressOf(client: pg.ClientBase, w: WorkTables, run: string, entries: number): Promise<number[]> {
  const done = new Array<number>(entries).fill(0);
  const { rows } = await client.query<{ entry: number; done: string }>(`SELECT entry, sum(done)::text AS done FROM ${w.progress} WHERE run = $1 GROUP BY entry`, [run]);
  for (const r of rows) done[r.entry] = Number(r.done);
  return done;
}

/** How many of an entry's shared rows are kept (its `onShared` is `keep`), counted once its changes are done. */
export async function keptShared(ctx: PassContext, e: EntryModel): Promise<number> {
  if (!e.pointers.length || e.table.onShared !== 'keep') return 0;
  const { client, model, work: w, run } = ctx;
  if (e.referenced) {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${w.keys} WHERE run = $1 AND entry = ${e.index} AND shared`, [run]);
    return rows[0].n;
  }
  const { params, param } = parameters();
  const src: Source = { kind: 'keys', table: w.keys, run: param(run) };
  const text = `SELECT count(*)::int AS n FROM ${e.rel} t WHERE ${matchCondition(model, e, 't', param, src)} AND ${sharedCondition(model, e, 't', param, src)}`;
  const { rows } = await at(e, () => client.query<{ n: number }>(text, params));
  return rows[0].n;
}
