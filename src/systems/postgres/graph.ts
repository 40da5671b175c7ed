/**
 * The relations between the table entries of one PostgreSQL system, read from their `match` references:
 * which entries must be resolved before which (a reference reads the rows already found for the entry it
 * names), which must be changed before which (the row that points at another goes first, so a foreign key
 * never blocks and nothing is left unreachable), and what the catalog got wrong (unknown entries, a name
 * used twice, cycles). Pure: the schema validates with it and the connector plans with it.
 */
import { findCycles } from '../../catalog/dependencies';
import type { MatchItem, PostgresTable, ReferenceMatch } from './schema';

/** The fields of a table entry the graph reads (the schema's output, or its input in the superRefine). */
type Entry = Pick<PostgresTable, 'table' | 'name' | 'match' | 'primaryKey'>;

/** The name other entries reference an entry by. */
export const entryName = (t: Pick<Entry, 'name' | 'table'>): string => t.name ?? t.table;

/** An entry's matches as a list (a single match is a list of one). */
export const matchesOf = (t: Pick<Entry, 'match'>): MatchItem[] => (Array.isArray(t.match) ? t.match : [t.match]);

/** An entry's key columns (a single key is a list of one). */
export const keyColumns = (t: Pick<Entry, 'primaryKey'>): string[] => (typeof t.primaryKey === 'string' ? [t.primaryKey] : t.primaryKey);

export const isReference = (m: MatchItem): m is ReferenceMatch => 'references' in m;

/** `customer.id` → `{ entry: 'customer', column: 'id' }`. */
export function parseReference(target: string): { entry: string; column: string } {
  const dot = target.indexOf('.');
  return { entry: target.slice(0, dot), column: target.slice(dot + 1) };
}

/** One reference of entry `from` (its match number `match`) to a column of entry `to`. */
export interface Reference {
  from: number;
  match: number;
  column: string;
  to: number;
  toColumn: string;
}

/** Every resolvable reference between the entries (unknown names are left to `relationProblems`). */
export function referencesOf(tables: readonly Entry[]): Reference[] {
  const index = new Map<string, number>();
  tables.forEach((t, i) => index.has(entryName(t)) || index.set(entryName(t), i));
  const out: Reference[] = [];
  tables.forEach((t, from) =>
    matchesOf(t).forEach((m, match) => {
      if (!isReference(m)) return;
      const target = parseReference(m.references);
      const to = index.get(target.entry);
      if (to !== undefined) out.push({ from, match, column: m.column, to, toColumn: target.column });
    }),
  );
  return out;
}

/**
 * Whether the entry holding reference `r` is changed before the entry it references. A reference to the
 * other entry's key (`customer_id → customer.id`) means this row points at that one: it goes first. A
 * reference from this entry's own key (`address.id ← customer.address_id`) means the other row points at
 * this one: that one goes first. Neither (two e-mail columns): this one first.
 */
export function changesBefore(tables: readonly Entry[], r: Reference): boolean {
  const targetKey = keyColumns(tables[r.to]);
  if (targetKey.length === 1 && targetKey[0] === r.toColumn) return true;
  const ownKey = keyColumns(tables[r.from]);
  return !(ownKey.length === 1 && ownKey[0] === r.column);
}

/** Kahn's order over `after[i]` (what must come before i), ties broken by catalog order. */
function ordered(count: number, after: Array<Set<number>>): number[] {
  const done = new Set<number>();
  const out: number[] = [];
  while (out.length < count) {
    let next = -1;
    for (let i = 0; i < count && next < 0; i++) if (!done.has(i) && [...after[i]].every((d) => done.has(d))) next = i;
    if (next < 0) throw new Error('the table relations form a cycle'); // refused at load: relationProblems
    done.add(next);
    out.push(next);
  }
  return out;
}

/** Entry indexes in the order their rows are resolved: an entry after every entry it references. */
export function resolutionOrder(tables: readonly Entry[]): number[] {
  const after = tables.map(() => new Set<number>());
  for (const r of referencesOf(tables)) after[r.from].add(r.to);
  return ordered(tables.length, after);
}

/** Entry indexes in the order their rows are changed: rows that point at others before what they point at. */
export function changeOrder(tables: readonly Entry[]): number[] {
  const after = tables.map(() => new Set<number>());
  for (const r of referencesOf(tables)) {
    if (r.from === r.to) continue;
    if (changesBefore(tables, r)) after[r.to].add(r.from);
    else after[r.from].add(r.to);
  }
  return ordered(tables.length, after);
}

/**
 * The columns of entry `i` whose values the resolution keeps beside its key: every column another entry
 * references (`customer.address_id`), so they can still be read once the row is gone.
 */
export function exportedColumns(tables: readonly Entry[], i: number): string[] {
  const key = keyColumns(tables[i]);
  const cols = new Set<string>();
  for (const r of referencesOf(tables)) if (r.to === i && !key.includes(r.toColumn)) cols.add(r.toColumn);
  return [...cols];
}

/** What is wrong with the relations of a system's tables, each with the path of the offending field. */
export function relationProblems(tables: readonly Entry[]): Array<{ path: Array<string | number>; message: string }> {
  const problems: Array<{ path: Array<string | number>; message: string }> = [];
  const seen = new Map<string, number>();
  tables.forEach((t, i) => {
    const name = entryName(t);
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else problems.push({ path: [i, 'name'], message: `table entry name "${name}" is already used by entry ${first}: give each entry of the same table its own name` });
  });
  tables.forEach((t, i) =>
    matchesOf(t).forEach((m, j) => {
      if (!isReference(m)) return;
      const path = [i, 'match', ...(Array.isArray(t.match) ? [j] : []), 'references'];
      const target = parseReference(m.references);
      if (!seen.has(target.entry)) problems.push({ path, message: `references "${m.references}": no table entry is named "${target.entry}" in this system` });
      else if (target.entry === entryName(t)) problems.push({ path, message: `references "${m.references}": an entry cannot reference itself` });
    }),
  );
  if (problems.length > 0) return problems;
  if (!tables.some((t) => matchesOf(t).some((m) => !isReference(m)))) {
    problems.push({ path: [], message: 'no table matches an identifier: references need at least one table found by the subject\'s identifiers' });
  }

  const names = tables.map(entryName);
  const refs = referencesOf(tables);
  const describe = (kind: string, cycle: string[]) => `the ${kind} form a cycle: ${cycle.join(' → ')}`;
  const resolveDeps = tables.map((_, i) => ({ id: names[i], dependsOn: refs.filter((r) => r.from === i).map((r) => names[r.to]) }));
  for (const cycle of findCycles(resolveDeps)) problems.push({ path: [names.indexOf(cycle[0])], message: describe('references', cycle) });
  if (problems.length > 0) return problems;
  const changeDeps = tables.map((_, i) => ({
    id: names[i],
    dependsOn: refs.flatMap((r) => (r.from === i && !changesBefore(tables, r) ? [names[r.to]] : r.to === i && changesBefore(tables, r) ? [names[r.from]] : [])),
  }));
  for (const cycle of findCycles(changeDeps)) problems.push({ path: [names.indexOf(cycle[0])], message: describe('changes the references imply (rows pointing at others go first)', cycle) });
  return problems;
}
