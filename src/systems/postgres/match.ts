/**
 * The SQL conditions that say "this row is the subject's", shared by the erase (which reads the rows it
 * resolved from the engine's key table) and the read-only statements (verify, preview, identify), which
 * resolve the same relations afresh as common table expressions of one statement.
 */
import type { EntryModel, ErasureModel, IdentifierCondition, Pointer, ReferenceCondition } from './model';
import { sameType, slotOf, typeOf } from './model';
import { quote, type Param } from './sql';

/**
 * Where the rows already resolved for an entry are read: the engine's key table (`keys`, for the run whose
 * id is the parameter `run`) or the statement's CTE `e<index>` (`cte`, columns aliased by `cteColumn`).
 */
export type Source = { kind: 'keys'; table: string; run: string } | { kind: 'cte' };

/** The columns an entry's CTE carries, in order: key, exported, pointed-at and provided columns. */
export function cteColumns(e: EntryModel): string[] {
  return [...new Set([...e.keys, ...e.exported, ...e.pointers.map((p) => p.target), ...Object.values(e.table.provides ?? {})])];
}

/** The alias of `column` in entry `e`'s CTE. */
export const cteColumn = (e: EntryModel, column: string): string => `c${cteColumns(e).indexOf(column) + 1}`;

/**
 * One identifier match as SQL on `row`, or undefined when the subject has no value for it. Exact: the column
 * compared in its own type (its index serves; citext and uuid compare as they always do), or lower-cased
 * text with `ignoreCase`; under a nondeterministic collation the text must also be byte-equal. `wide` (verify)
 * compares e-mails trimmed and case-insensitively whatever the catalog says, so a variant the erase did not
 * touch is found.
 */
export function identifierCondition(c: IdentifierCondition, row: string, param: Param, wide = false): string | undefined {
  if (c.values.length === 0) return undefined;
  const col = `${row}.${quote(c.match.column)}`;
  if (wide && c.match.identifier === 'email') return `lower(btrim(${col}::text)) = ANY(${param(c.values.map((v) => v.trim().toLowerCase()))}::text[])`;
  if (c.match.ignoreCase) return `lower(${col}::text) = ANY(${param(c.values.map((v) => v.toLowerCase()))}::text[])`;
  const exact = `${col} = ANY(${param(c.values)})`;
  return c.bytewise ? `(${exact} AND (${col}::text COLLATE "C") = ANY(${param(c.values)}::text[]))` : exact;
}

/** The identifier matches of `e` OR-ed, or undefined when none applies. */
export function directCondition(e: EntryModel, row: string, param: Param, wide = false): string | undefined {
  const parts = e.identifiers.map((c) => identifierCondition(c, row, param, wide)).filter((s): s is string => s !== undefined);
  return parts.length ? `(${parts.join(' OR ')})` : undefined;
}

/**
 * One reference match as SQL on `row`: the column holds a value the referenced column has in the rows
 * already resolved for entry `r.to`. Same types compare in that type (the column's index serves); different
 * types compare as text, exactly (see `sameType`).
 */
export function referenceCondition(model: ErasureModel, e: EntryModel, r: ReferenceCondition, row: string, src: Source): string {
  const to = model.entries[r.to];
  const typed = sameType(e, r.column, to, r.toColumn);
  const col = `${row}.${quote(r.column)}`;
  if (src.kind === 'cte') {
    const value = `s.${cteColumn(to, r.toColumn)}`;
    return typed ? `${col} IN (SELECT ${value} FROM e${r.to} s)` : `${col}::text IN (SELECT ${value}::text FROM e${r.to} s)`;
  }
  const from = `FROM ${src.table} k WHERE k.run = ${src.run} AND k.entry = ${r.to}`;
  // A reference to the other entry's whole key (the usual child → parent) is one lookup in the key table's
  // index per row, whatever the planner believes about the key table's size; the text forms compare exactly.
  // `OFFSET 0` keeps it a per-row lookup: folded into a join, a stale row estimate can turn it into a scan.
  if (to.keys.length === 1 && to.keys[0] === r.toColumn) return `EXISTS (SELECT 1 ${from} AND k.key = ARRAY[${col}::text] OFFSET 0)`;
  const slot = slotOf(to, r.toColumn);
  const value = `k.${slot.array}[${slot.position}]`;
  return typed ? `${col} IN (SELECT (${value})::${typeOf(e, r.column)} ${from})` : `${col}::text IN (SELECT ${value} ${from})`;
}

/** Every match of `e` OR-ed: the row is the subject's. `false` when no match applies. */
export function matchCondition(model: ErasureModel, e: EntryModel, row: string, param: Param, src: Source, wide = false): string {
  const parts = [directCondition(e, row, param, wide), ...e.references.map((r) => referenceCondition(model, e, r, row, src))].filter(Boolean);
  return parts.length ? `(${parts.join(' OR ')})` : 'false';
}

/**
 * Whether row `x` of a pointing table is itself one of the subject's rows of one of `entries`: its resolved
 * key is there (entries whose keys are kept, and every entry in a CTE statement), or it matches the entry's
 * condition (entries changed straight from their table).
 */
function inside(model: ErasureModel, entries: number[], x: string, param: Param, src: Source): string {
  if (entries.length === 0) return 'false';
  return entries
    .map((i) => {
      const other = model.entries[i];
      if (src.kind === 'cte') {
        return `EXISTS (SELECT 1 FROM e${i} y WHERE ${other.keys.map((k) => `y.${cteColumn(other, k)} = ${x}.${quote(k)}`).join(' AND ')})`;
      }
      if (!other.referenced) return matchCondition(model, other, x, param, src);
      return `EXISTS (SELECT 1 FROM ${src.table} y WHERE y.run = ${src.run} AND y.entry = ${i} AND y.key = ARRAY[${other.keys.map((k) => `${x}.${quote(k)}::text`).join(', ')}] OFFSET 0)`;
    })
    .join(' OR ');
}

/**
 * Whether some row outside the subject's set points at the row whose pointed-at column values `target(p)`
 * gives: then the row is shared (another customer's order still ships to this address).
 */
export function pointedAtFromOutside(model: ErasureModel, e: EntryModel, target: (p: Pointer) => string, param: Param, src: Source): string {
  if (e.pointers.length === 0) return 'false';
  return `(${e.pointers
    .map((p) => {
      const same = p.textual ? `x.${quote(p.column)}::text = (${target(p)})::text` : `x.${quote(p.column)} = ${target(p)}`;
      return `EXISTS (SELECT 1 FROM ${p.rel} x WHERE ${same} AND NOT (${inside(model, p.entries, 'x', param, src)}))`;
    })
    .join(' OR ')})`;
}

/** Whether live row `row` of `e` is shared: reached only by reference, and pointed at from outside. */
export function sharedCondition(model: ErasureModel, e: EntryModel, row: string, param: Param, src: Source): string {
  if (e.pointers.length === 0) return 'false';
  const direct = directCondition(e, row, param);
  return `(${direct ? `NOT COALESCE(${direct}, false) AND ` : ''}${pointedAtFromOutside(model, e, (p) => `${row}.${quote(p.target)}`, param, src)})`;
}
