/** Registers the engine's search attributes on a Temporal server (idempotent). */
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { erasureSearchAttributes } from '../workflows/definitions';

const grpcUnimplemented = 12;

const indexedType: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  BOOL: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
};

/**
 * Adds ErasureStatus, ErasureDeadline, … to the namespace unless they are there already.
 * @example await registerSearchAttributes(connection, 'default');
 */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  let have = new Set<string>();
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    have = new Set([...Object.keys(existing.customAttributes ?? {}), ...Object.keys(existing.systemAttributes ?? {})]);
  } catch (err) {
    // The Java time-skipping server implements only AddSearchAttributes (which is idempotent there).
    if ((err as { code?: number }).code !== grpcUnimplemented) throw err;
  }
  const missing = erasureSearchAttributes.filter((k) => !have.has(k.name));
  if (missing.length === 0) return;
  await connection.withDeadline(Date.now() + 10_000, () => connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((k) => [k.name, indexedType[k.type]])),
  }));
}
