/**
 * The read-only look at a subject's rows that verify, preview and identify take: every entry resolved afresh
 * in one statement (one CTE per entry, referenced entries first, each reading the CTEs it references), then
 * counted: rows found, rows shared (reached by reference and still pointed at from outside the subject's
 * set), and the values of the columns the entry `provides`. Nothing is locked or changed.
 */
import type pg from 'pg';
import type { ErasureModel } from './model';
import { cteColumn, cteColumns, directCondition, matchCondition, pointedAtFromOutside } from './match';
import { parameters, quote } from './sql';

/** What the census found for one entry. */
export interface EntryCensus {
  rows: number;
  shared: number;
  /** Per provided identifier name, the distinct values (text form) found. */
  provided: Record<string, string[]>;
}

/**
 * Counts every entry's rows for the subject. `wide` (verify) compares e-mails trimmed and without case, so a
 * variant the erase's exact match left behind is counted too.
 * @example const census = await takeCensus(client, model, { wide: true });
 */
export async function takeCensus(client: pg.ClientBase | pg.Pool, model: ErasureModel, opts: { wide?: boolean } = {}): Promise<EntryCensus[]> {
  const { params, param } = parameters();
  const ctes = model.resolution.map((i) => {
    const e = model.entries[i];
    const cols = cteColumns(e).map((c) => `t.${quote(c)} AS ${cteColumn(e, c)}`);
    const direct = directCondition(e, 't', param, opts.wide) ?? 'false';
    return `e${i} AS MATERIALIZED (SELECT ${[...cols, `${direct} AS direct`].join(', ')} FROM ${e.rel} t WHERE ${matchCondition(model, e, 't', param, { kind: 'cte' }, opts.wide)})`;
  });
  const fields = model.entries.map((e) => {
    const shared = `NOT s.direct AND ${pointedAtFromOutside(model, e, (p) => `s.${cteColumn(e, p.target)}`, param, { kind: 'cte' })}`;
    const provided = Object.entries(e.table.provides ?? {}).map(
      ([name, col]) => `'${name.replace(/'/g, "''")}', (SELECT COALESCE(json_agg(DISTINCT s.${cteColumn(e, col)}::text), '[]') FROM e${e.index} s WHERE s.${cteColumn(e, col)} IS NOT NULL)`,
    );
    return `json_build_object('rows', (SELECT count(*) FROM e${e.index}), 'shared', (SELECT count(*) FROM e${e.index} s WHERE ${shared}), 'provided', json_build_object(${provided.join(', ')}))`;
  });
  const text = `WITH ${ctes.join(',\n')} SELECT json_build_array(${fields.join(', ')}) AS census`;
  const { rows } = await client.query<{ census: EntryCensus[] }>(text, params);
  return rows[0].census;
}
