/**
 * One PostgreSQL erasure as the statements see it: per table entry, its key, the identifier values each of
 * its matches looks for, the entries it references, the columns others read from it, and the rows elsewhere
 * that point at its rows (which make a row reached by reference shared). Built from the catalog, the
 * tables' shapes and the subject; the statements in ./resolve.ts and ./census.ts only read it.
 */
import { identifierValues, type SystemTask } from '../../domain';
import type { IdentifierMatch, PostgresTable } from './schema';
import type { TableShape } from './shape';
import { changeOrder, entryName, exportedColumns, isReference, keyColumns, matchesOf, referencesOf, resolutionOrder } from './graph';
import { label, quote, relation } from './sql';

/** An identifier match and the values it looks for (none: the subject has no such identifier). */
export interface IdentifierCondition {
  match: IdentifierMatch;
  values: string[];
  /** The column compares under a nondeterministic collation: the text must also be equal byte for byte. */
  bytewise: boolean;
}

/** A reference match: this entry's `column` holds `toColumn` of entry `to`'s rows. */
export interface ReferenceCondition {
  column: string;
  to: number;
  toColumn: string;
}

/** Rows of `rel` whose `column` holds this entry's `target`; `entries` are the catalog entries on that table. */
export interface Pointer {
  rel: string;
  column: string;
  target: string;
  entries: number[];
  /** The two columns' types differ (a declared reference from a text column to an integer): compare text. */
  textual: boolean;
}

export interface EntryModel {
  index: number;
  table: PostgresTable;
  name: string;
  label: string;
  /** `"schema"."table"`. */
  rel: string;
  keys: string[];
  /** Key column types, to cast key text back in the column's own type. */
  keyTypes: string[];
  /** Non-key columns other entries reference, kept beside the key. */
  exported: string[];
  identifiers: IdentifierCondition[];
  references: ReferenceCondition[];
  /** Rows elsewhere that point at this entry's rows (only for entries reached by reference). */
  pointers: Pointer[];
  /** Whether any other entry references this one (its resolved keys must outlive its own changes). */
  referenced: boolean;
  shape: TableShape;
}

export interface ErasureModel {
  entries: EntryModel[];
  /** Entry indexes, referenced entries first. */
  resolution: number[];
  /** Entry indexes, rows that point at others first. */
  changes: number[];
}

/** The type of `column` in `entry`'s table, as SQL spells it. */
export const typeOf = (entry: EntryModel, column: string): string => entry.shape.columns.get(column)!.type;

/**
 * Whether a reference from `e.column` to `to.toColumn` compares in the column's own type: only when both
 * columns have the same type (the resolved text then casts back to exactly the value it came from). Across
 * types the two sides compare as text, so a text "042" never equals the integer 42.
 */
export const sameType = (e: EntryModel, column: string, to: EntryModel, toColumn: string): boolean => typeOf(e, column) === typeOf(to, toColumn);

/** Where a referenced column sits in an entry's resolved row: in the key array or the exported values. */
export function slotOf(entry: EntryModel, column: string): { array: 'key' | 'vals'; position: number } {
  const k = entry.keys.indexOf(column);
  if (k >= 0) return { array: 'key', position: k + 1 };
  return { array: 'vals', position: entry.exported.indexOf(column) + 1 };
}

/**
 * Builds the model of one system's erasure for one subject. `values` gives each identifier match's values
 * (the connector has checked them against the column types).
 */
export function buildModel(tables: PostgresTable[], shapes: TableShape[], task: Pick<SystemTask, 'subject' | 'derived'>): ErasureModel {
  const refs = referencesOf(tables);
  const sameTable = (a: { schema: string; table: string }, b: { schema: string; table: string }) => a.schema === b.schema && a.table === b.table;
  const entries: EntryModel[] = tables.map((t, i) => {
    const shape = shapes[i];
    const identifiers = matchesOf(t)
      .filter((m): m is IdentifierMatch => !isReference(m))
      .map((m) => ({
        match: m,
        values: identifierValues(task.subject, m.identifier, task.derived),
        bytewise: !m.ignoreCase && shape.columns.get(m.column)?.deterministic === false,
      }));
    const references = refs.filter((r) => r.from === i).map((r) => ({ column: r.column, to: r.to, toColumn: r.toColumn }));
    const keys = keyColumns(t);
    return {
      index: i,
      table: t,
      name: entryName(t),
      label: label(t),
      rel: relation(t),
      keys,
      keyTypes: keys.map((k) => shape.columns.get(k)!.type),
      exported: exportedColumns(tables, i),
      identifiers,
      references,
      pointers: [],
      referenced: refs.some((r) => r.to === i),
      shape,
    };
  });
  for (const e of entries) {
    if (e.references.length === 0) continue;
    const pointers = new Map<string, Pointer>();
    const add = (schema: string, table: string, column: string, target: string, textual = false) => {
      const at = { schema, table };
      const p: Pointer = { rel: `${quote(schema)}.${quote(table)}`, column, target, entries: entries.filter((x) => sameTable(x.table, at)).map((x) => x.index), textual };
      pointers.set(JSON.stringify([schema, table, column, target]), p);
    };
    // The rows the subject's rows point at (`address.id ← customer.address_id`) are pointed at by other rows of that table too.
    for (const r of e.references) {
      const to = entries[r.to];
      if (!to.keys.includes(r.toColumn) || to.keys.length > 1) add(to.table.schema, to.table.table, r.toColumn, r.column, !sameType(e, r.column, to, r.toColumn));
    }
    for (const fk of e.shape.foreignKeys) add(fk.schema, fk.table, fk.column, fk.target);
    // Rows that an entry finds by exactly this pointer (order items by `order_id → orders.id`) are all in the
    // subject's set by construction: checking them one by one would only cost time.
    const coveredBy = (p: Pointer) =>
      p.entries.some((x) => entries[x].references.some((r) => r.to === e.index && r.column === p.column && r.toColumn === p.target));
    e.pointers = [...pointers.values()].filter((p) => e.shape.columns.has(p.target) && !coveredBy(p));
  }
  return { entries, resolution: resolutionOrder(tables), changes: changeOrder(tables) };
}
