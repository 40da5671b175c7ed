/**
 * How a PostgreSQL failure is reported: SQLSTATE codes that retrying cannot fix become non-retryable
 * failures with what to tell the operator, the rest transient errors. PostgreSQL's own messages are never
 * passed on, since they can quote values.
 */
import type { PostgresTable } from './schema';
import { label } from './sql';
import { TransientConnectorError, isNonRetryable, nonRetryable, transientNetworkCode } from '../connector-kit';

/** What the SQLSTATEs of a restart or failover say about the server, for the message. */
const restartStates: Record<string, string> = {
  '57P01': 'is shutting down (administrator command)',
  '57P02': 'is restarting after a crash',
  '57P03': 'is not accepting connections yet (starting up, in recovery or shutting down)',
  '25006': 'is read-only here (a standby not yet promoted?)',
};

/**
 * The error to throw for `err`, raised while working on `table` (named in the message) if given.
 * @example catch (err) { throw classify(system.id, err, table); }
 */
export function classify(systemId: string, err: unknown, table?: PostgresTable): Error {
  if (isNonRetryable(err) || err instanceof TransientConnectorError) return err as Error;
  const code = (err as { code?: unknown } | null | undefined)?.code;
  const where = table ? ` (table ${label(table)})` : '';
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    // PostgreSQL's own messages can quote values (e.g. "invalid input syntax: <the e-mail>"): never pass them on.
    switch (code) {
      case '28P01':
      case '28000':
        return nonRetryable(systemId, `authentication to PostgreSQL failed (SQLSTATE ${code}): check the connection credentials`);
      case '3D000':
        return nonRetryable(systemId, 'the database in the connection URL does not exist (SQLSTATE 3D000)');
      case '3F000':
        return nonRetryable(systemId, `schema does not exist${where} (SQLSTATE 3F000)`);
      case '42P01':
        return nonRetryable(systemId, `table does not exist${where} (SQLSTATE 42P01)`);
      case '42703':
        return nonRetryable(systemId, `a column named in the catalog does not exist${where} (SQLSTATE 42703)`);
      case '42501':
        return nonRetryable(systemId, `permission denied${where} (SQLSTATE 42501)`);
      case '23503':
        return nonRetryable(systemId, `rows elsewhere still reference this table${where}: list the referencing table before it in the catalog (SQLSTATE 23503)`);
      case '42883':
      case '42804':
        return nonRetryable(systemId, `a column's type does not fit its mask or match${where} (SQLSTATE ${code})`);
    }
    if (code.startsWith('22')) return nonRetryable(systemId, `a value does not fit its column${where} (SQLSTATE ${code}); check the match column's type and the masks`);
    if (code.startsWith('42')) return nonRetryable(systemId, `the catalog does not match the database${where} (SQLSTATE ${code})`);
    // A server starting up, in recovery or shutting down (57P01-57P03), a dropped connection (08), a standby
    // that has not been promoted yet (25006): what a restart or a failover looks like, so transient.
    const restarting = restartStates[code] ?? (code.startsWith('08') ? 'dropped the connection' : undefined);
    if (restarting) return new TransientConnectorError(systemId, `PostgreSQL ${restarting} (SQLSTATE ${code})${where}`);
    // 40 serialization/deadlock, 53 resources, 55P03 lock timeout, 57014 cancel: transient.
    return new TransientConnectorError(systemId, `PostgreSQL error SQLSTATE ${code}${where}`);
  }
  const net = transientNetworkCode(err);
  if (net) return new TransientConnectorError(systemId, `cannot reach PostgreSQL (${net})`);
  const message = err instanceof Error ? err.message : String(err);
  if (/timeout/i.test(message)) return new TransientConnectorError(systemId, 'timed out talking to PostgreSQL');
  return new TransientConnectorError(systemId, `PostgreSQL call failed (${(err as Error)?.name ?? 'error'})`);
}
