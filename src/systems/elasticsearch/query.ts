/**
 * What an Elasticsearch erasure asks for, read from the request's plan snapshot (index, match, extra
 * clause, batching), the query that makes, what an attempt heartbeats, and how a receipt records which
 * method erased.
 */
import type { SystemTask } from '../../domain';
import type { ElasticsearchSystem } from './schema';

/** How documents are erased: server-side delete-by-query, or search + `_bulk` delete when the cluster lacks it. */
export type EsEraseMethod = 'delete_by_query' | 'bulk';

/** What an erase attempt heartbeats, whichever method it uses: a retried attempt resumes from it. */
export interface EsProgress {
  op: 'erase';
  /** Set once the method is known; a retried attempt keeps using it. */
  method?: EsEraseMethod;
  /** The running delete-by-query task, when one was started and not yet collected. */
  taskId?: string;
  round: number;
  found: number;
  erased: number;
  conflicts: number;
  polls: number;
}

/**
 * The plan snapshot's part of the erasure. Every plan carries the parsed entry with the schema's defaults
 * applied (plans from before the allow-list carried the whole entry, defaults included), so nothing is
 * defaulted here.
 */
export const esSpec = (task: SystemTask) =>
  task.system.spec as Pick<ElasticsearchSystem, 'index' | 'match' | 'query' | 'scrollSize' | 'requestsPerSecond' | 'pollIntervalMs'>;

/** Keyword values compare as UTF-8 bytes (code points), not as JavaScript's UTF-16 code units. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Documents whose match field holds some value outside `allowed`: a keyword field is compared byte for
 * byte, so any other value sorts below the smallest allowed value, above the largest, or in a gap between
 * two neighbours (a range query matches when any one value of a multi-valued field does). The gaps
 * partition the field's terms, so however many values are allowed, every term of the field is looked at
 * once, never once per value. A value too long to be indexed (`ignore_above`) is invisible to the ranges,
 * but Elasticsearch names the field in the document's `_ignored` metadata; such a document cannot be shown
 * to be the subject's alone, so it counts as shared too. Pure query DSL: no script, so no painless needed.
 */
function otherValues(field: string, allowed: string[]): Record<string, unknown> {
  const sorted = [...new Set(allowed)].sort(byteOrder);
  const gaps = sorted.slice(1).map((upper, i) => ({ range: { [field]: { gt: sorted[i], lt: upper } } }));
  return {
    bool: {
      should: [{ range: { [field]: { lt: sorted[0] } } }, ...gaps, { range: { [field]: { gt: sorted[sorted.length - 1] } } }, { term: { _ignored: field } }],
      minimum_should_match: 1,
    },
  };
}

/** A term query for one value (the shape receipts have always hashed), a terms query for several. */
function anyOf(field: string, values: string[]): Record<string, unknown> {
  return values.length === 1 ? { term: { [field]: values[0] } } : { terms: { [field]: values } };
}

const asList = (values: string | string[]) => (typeof values === 'string' ? [values] : values);

/**
 * The subject's documents: a term query on the identifier field (a terms query when the subject has several
 * values, say two derived user ids), ANDed with the catalog's extra clause, leaving out documents whose
 * field also holds a value outside `allowed` (they are someone else's too: see `sharedQuery`). `allowed`
 * is the subject's values, plus other spellings of them found in the index (`spellingsQuery`); a value
 * repeated is still the subject's alone.
 * @example subjectQuery('user_id', 'u-1') // matches { user_id: 'u-1' } and ['u-1', 'u-1'], not ['u-1', 'u-2']
 */
export function subjectQuery(field: string, values: string | string[], extra?: Record<string, unknown>, allowed?: string[]): Record<string, unknown> {
  const list = asList(values);
  return { bool: { filter: [anyOf(field, list), ...(extra ? [extra] : [])], must_not: [otherValues(field, allowed ?? list)] } };
}

/**
 * The documents that name the subject but also someone else (or a value the index skipped): kept, and
 * counted in the receipt's `details.shared`.
 * @example await client.count({ index, query: sharedQuery('user_id', 'u-1') });
 */
export function sharedQuery(field: string, values: string | string[], extra?: Record<string, unknown>, allowed?: string[]): Record<string, unknown> {
  const list = asList(values);
  return { bool: { filter: [anyOf(field, list), otherValues(field, allowed ?? list), ...(extra ? [extra] : [])] } };
}

// ---------------------------------------------------------------------------------------------------
// E-mails in other spellings: case and surrounding blanks
// ---------------------------------------------------------------------------------------------------

/** The blanks a stored e-mail may carry around it (what a careless import leaves). */
const BLANKS = ' \t\n\r';

/** An e-mail as compared across spellings: surrounding blanks gone, ASCII letters lower-cased (as `case_insensitive` does). */
export function emailSpelling(value: string): string {
  return value.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, '').replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * `value` as a Lucene regular expression that matches it literally: ASCII characters other than letters
 * and digits are escaped (`@`, `.`, `#`, `~` are operators there). With `caseClasses`, each ASCII letter
 * becomes `[aA]`, for the aggregation's `include`, which has no `case_insensitive`.
 */
function literal(value: string, caseClasses = false): string {
  return [...value]
    .map((c) => {
      if (/[a-zA-Z]/.test(c)) return caseClasses ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c;
      return c.charCodeAt(0) < 0x80 && !/[0-9]/.test(c) ? `\\${c}` : c;
    })
    .join('');
}

/** The spellings of `value` verification looks for: any ASCII case, with blanks around it. */
const paddedPattern = (value: string, caseClasses = false) => `[${BLANKS}]*${literal(emailSpelling(value), caseClasses)}[${BLANKS}]*`;

/**
 * Every document whose field holds one of the subject's e-mails in any spelling: another ASCII case
 * (`term` with `case_insensitive`, Elasticsearch 7.10+) or with blanks around it (a `regexp`, also
 * case-insensitive). Verification counts these, so that a copy the exact erase cannot see is `remaining`.
 * @example variantsQuery('email', ['a@x.com']) // matches 'A@X.com' and ' a@x.com '
 */
export function variantsQuery(field: string, values: string[]): Record<string, unknown> {
  return {
    bool: {
      should: values.flatMap((v) => [
        { term: { [field]: { value: v, case_insensitive: true } } },
        { regexp: { [field]: { value: paddedPattern(v), flags: 'NONE', case_insensitive: true } } },
      ]),
      minimum_should_match: 1,
    },
  };
}

/**
 * An aggregation listing the values, among the documents `sharedQuery` finds, that are the subject's
 * e-mails in another spelling: with them allowed, a document holding `["a@x.com", "A@X.com"]` is the
 * subject's alone. Bucket keys are values: they stay inside the connector.
 * @example await client.search({ index, size: 0, query: sharedQuery(field, values), aggs: spellingsAggregation(field, values) })
 */
export function spellingsAggregation(field: string, values: string[], size = 1000): { spellings: { terms: { field: string; size: number; include: string } } } {
  return { spellings: { terms: { field, size, include: values.map((v) => paddedPattern(v, true)).join('|') } } };
}

/** The method an erase receipt's details record (`bulkFallback`: 1 or 0). */
export function eraseMethodOf(details: Record<string, number> | undefined): EsEraseMethod {
  return details?.bulkFallback === 1 ? 'bulk' : 'delete_by_query';
}
