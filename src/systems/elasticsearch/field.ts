/**
 * Whether the catalog's match field can be matched exactly by the connector's top-level `term` query, read
 * from the index's mapping. Every refusal is non-retryable (an operator must change the catalog or the
 * mapping) and names the field, never the subject's value.
 */
import type { Client } from '@elastic/elasticsearch';
import { nonRetryable } from '../connector-kit';

/** Runs one client call against `index`, turning its failure into the connector's error. */
export type EsCall = <T>(index: string, fn: (c: Client) => Promise<T>) => Promise<T>;

/** What the mapping says about the match field, across every index `index` names (an alias or pattern may name several). */
export interface MatchField {
  /** The field's mapped types (`keyword` only, once checked); empty when no index maps it yet. */
  types: string[];
  /** The smallest `ignore_above` any index sets: longer values are not indexed there. */
  ignoreAbove?: number;
}

/** The parts of a field's or object's mapping this module reads. */
interface MappingNode {
  type?: string;
  normalizer?: string;
  ignore_above?: number;
  properties?: Record<string, MappingNode>;
  fields?: Record<string, MappingNode>;
}

/**
 * The nested objects on the way to `field` (`users` for `users.id`). A name may hold dots itself (an object
 * with `subobjects: false`), so every split of the path is tried; multi-fields (`user_id.keyword`) are
 * followed through `fields`.
 */
function nestedAncestors(children: Record<string, MappingNode> | undefined, path: string[], prefix: string[] = []): string[] {
  const found: string[] = [];
  for (let i = 1; i < path.length && children; i++) {
    const node = children[path.slice(0, i).join('.')];
    if (!node) continue;
    const here = [...prefix, ...path.slice(0, i)];
    if (node.type === 'nested') found.push(here.join('.'));
    const rest = path.slice(i);
    found.push(...nestedAncestors(node.properties, rest, here), ...nestedAncestors(node.fields, rest, here));
  }
  return found;
}

/**
 * Refuses a match field that a `term` query would not match exactly, and returns what the erasure still
 * has to check per value (`checkValue`).
 * - Only `keyword` is compared as stored. A term query on a `text` field silently matches nothing (the value
 *   is split into tokens); on a numeric, date, boolean or ip field it coerces the value, so another spelling
 *   of it matches the same documents; an unmapped field matches nothing.
 * - A `normalizer` (say, lowercase) applies to the query too, so erasing `u-1` would also erase `U-1`.
 * - A field inside a `nested` object lives in hidden sub-documents that a top-level query never reaches:
 *   the erasure would find 0 and verification would say 0 while the documents stay.
 * @example const field = await checkField('search', call, 'documents', 'user_id'); checkValue('search', 'user_id', field, value);
 */
export async function checkField(systemId: string, call: EsCall, index: string, field: string): Promise<MatchField> {
  const mapping = await call(index, (c) => c.indices.getFieldMapping({ index, fields: field }));
  const nodes = Object.values(mapping)
    .map((m) => Object.values(m.mappings?.[field]?.mapping ?? {})[0] as MappingNode | undefined)
    .filter((m): m is MappingNode => m !== undefined);
  const types = nodes.map((m) => m.type);
  if (types.includes('text')) {
    throw nonRetryable(systemId, `field "${field}" is mapped as text; match on a keyword field (for example "${field}.keyword")`);
  }
  const other = [...new Set(types.filter((t) => t !== 'keyword').map((t) => t ?? 'object'))];
  if (other.length) {
    throw nonRetryable(
      systemId,
      `field "${field}" is mapped as ${other.join('/')}; match on a keyword field (a term query on this type converts the value, so other spellings of it would match)`,
    );
  }
  const normalizer = nodes.find((m) => m.normalizer)?.normalizer;
  if (normalizer) {
    throw nonRetryable(
      systemId,
      `field "${field}" has a normalizer ("${normalizer}"); the query is normalized too, so other subjects' values that normalize alike (for example in another case) would match. Match on a keyword field without a normalizer`,
    );
  }
  if (types.length === 0) {
    const { count } = await call(index, (c) => c.count({ index }));
    if (count > 0) throw nonRetryable(systemId, `field "${field}" is not mapped in "${index}"`);
  }
  if (field.includes('.')) {
    // getFieldMapping reports the leaf alone; only the whole mapping shows the objects above it.
    const indices = await call(index, (c) => c.indices.getMapping({ index }));
    const nested = [...new Set(Object.values(indices).flatMap((m) => nestedAncestors(m.mappings?.properties as Record<string, MappingNode>, field.split('.'))))];
    if (nested.length) {
      throw nonRetryable(
        systemId,
        `field "${field}" is inside the nested object "${nested[0]}"; nested fields are not supported (a top-level term query never reaches nested documents, so they would stay while the erasure reported none)`,
      );
    }
  }
  const limits = nodes.map((m) => m.ignore_above).filter((n): n is number => typeof n === 'number');
  return { types: types.filter((t): t is string => typeof t === 'string'), ignoreAbove: limits.length ? Math.min(...limits) : undefined };
}

/**
 * Refuses a value longer than the field's `ignore_above`: Elasticsearch does not index it, so a term query
 * finds none of the subject's documents and verification would count 0 while they stay. Lengths are
 * counted as Elasticsearch counts them (UTF-16 code units, as JavaScript's `length`). The message gives
 * the length and the limit, never the value.
 * @example checkValue('search', 'user_id', { types: ['keyword'], ignoreAbove: 256 }, value);
 */
export function checkValue(systemId: string, field: string, facts: MatchField, value: string): void {
  if (facts.ignoreAbove !== undefined && value.length > facts.ignoreAbove) {
    throw nonRetryable(
      systemId,
      `the subject's value (${value.length} characters) is longer than the ignore_above (${facts.ignoreAbove}) of field "${field}": Elasticsearch did not index it, so its documents cannot be found by it. Raise ignore_above (and reindex) or match on another field`,
    );
  }
}
