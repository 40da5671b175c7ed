/**
 * The audit log as the workflow's activities see it: every event is appended to the trail, and the events
 * that change what the ledger says about a request also update its row, so the API's ledger answers and
 * the metrics follow the workflow: `phase.<phase>` moves the status, `deadline.extended` the deadline. The
 * events downstream hears of are queued for Kafka in the same transaction (src/events/lifecycle.ts).
 */
import { z } from 'zod';
import type { AuditLog } from '../activities';
import type { AuditEvent } from '../activities/types';
import type { Attestor } from '../attestation';
import { attestedFields, auditEventTypes, claimedBatches, formatIssues, isOneOf, phaseNamedBy, phases, type OperatorActionEntry } from '../domain';
import type { Logger } from '../logger';
import { DEFAULT_EVENTS_TOPIC, lifecycleMessageFor, repeatScope } from '../events/lifecycle';
import { enqueue } from '../events/outbox';
import { batchesHolding } from './batches';
import { inTransaction, type Pool, type PoolClient, type Queryable } from './db';
import { appendEvent } from './events';
import { createRequestRepository, type RequestRepository } from './requests';

/**
 * An `operator.actions` batch as the ledger keeps it: each entry's claim is checked and replaced by how the
 * action arrived (`via`, and `actor` when the claim verified, `batch` for a bulk action's), so the trail names
 * authenticated keys only. A bulk action's claim verifies only on a request its recorded batch holds, so the
 * request's batches are read from the ledger first.
 */
async function attributed(e: AuditEvent, attestor: Attestor, db: Queryable): Promise<AuditEvent> {
  const actions = (e.detail as { actions?: unknown } | undefined)?.actions;
  if (!Array.isArray(actions)) return e;
  const batches = await batchesHolding(db, e.requestId, claimedBatches((actions as OperatorActionEntry[]).map((a) => a?.attestation)));
  const entries = (actions as OperatorActionEntry[]).map(({ attestation, ...entry }) => {
    const target = attestedFields(entry);
    const arrival = attestor.arrival(attestation, { requestId: e.requestId, signal: entry.signal, at: entry.at, target }, batches);
    return { ...entry, ...arrival };
  });
  return { ...e, detail: { ...e.detail, actions: entries } };
}

/** The ledger's audit log, which can also write inside another transaction (the certificate's). */
export interface LedgerAudit extends Required<AuditLog> {
  /** Appends one event, moves the request row and queues its lifecycle message within `c`'s transaction. */
  recordWithin(c: PoolClient, e: AuditEvent): Promise<void>;
}

/** What the workflow records after an accepted extension; only `deadline` moves the row. */
const deadlineExtendedSchema = z.object({ deadline: z.iso.datetime({ offset: true }) });

/**
 * Builds the activities' {@link AuditLog} on the ledger. Each event is appended, the request row moved (a
 * phase, an extended deadline) and the lifecycle event it reports queued in the outbox (src/events) in one
 * transaction: downstream hears of a change exactly when it committed. A detail the ledger cannot use is
 * logged and left in the trail, never thrown: failing an audit activity would stall the erasure itself.
 * @example const audit = createActivityAudit({ pool, logger }); await audit.recordEvent({ requestId, type: 'phase.erasing' });
 */
export function createActivityAudit(deps: { pool: Pool; logger?: Logger; requests?: RequestRepository; attestor: Attestor; eventsTopic?: string }): LedgerAudit {
  const requests = deps.requests ?? createRequestRepository(deps.pool);
  const topic = deps.eventsTopic ?? DEFAULT_EVENTS_TOPIC;

  /** Moves the request row as the event says, in the caller's transaction. */
  const moveRow = async (c: PoolClient, e: AuditEvent) => {
    const phase = phaseNamedBy(e.type);
    if (phase !== undefined) {
      if (isOneOf(phases, phase)) await requests.recordPhase(e.requestId, phase, c);
      else deps.logger?.warn({ requestId: e.requestId, type: e.type }, 'audit event names no known phase; request status unchanged');
      return;
    }
    if (e.type === auditEventTypes.deadlineExtended) {
      const parsed = deadlineExtendedSchema.safeParse(e.detail ?? {});
      if (!parsed.success) {
        deps.logger?.warn({ requestId: e.requestId, problem: formatIssues(parsed.error, { prefix: 'detail' }) }, 'deadline.extended without a valid deadline; ledger deadline unchanged');
        return;
      }
      // Setting the same deadline again changes nothing, so a retried activity is harmless.
      await requests.extendDeadline(e.requestId, new Date(parsed.data.deadline), c);
    }
  };

  /** Appends one event, moves the row and queues its lifecycle message, in the caller's transaction. */
  const recordWithin = async (c: PoolClient, e: AuditEvent) => {
    // A retried eraseSystem activity names the same execution: its first attempt's record stands.
    if (e.type === auditEventTypes.systemErased && (await alreadyRecorded(c, e))) return;
    const scope = repeatScope(e);
    const occurrence = scope ? (await countEarlier(c, e, scope)) + 1 : undefined;
    await appendEvent(c, e);
    await moveRow(c, e);
    const record = await requests.find(e.requestId, c);
    const request = record ? { subjectRef: record.subjectRef, jurisdiction: record.jurisdiction, deadline: record.deadline } : undefined;
    const lifecycle = lifecycleMessageFor(e, { topic, occurredAt: new Date().toISOString(), request, occurrence });
    if (lifecycle) await enqueue(c, [lifecycle]);
  };
  const attributedIfActions = (raw: AuditEvent) => (raw.type === auditEventTypes.operatorActions ? attributed(raw, deps.attestor, deps.pool) : raw);

  return {
    async recordEvent(raw) {
      const e = await attributedIfActions(raw);
      await inTransaction(deps.pool, (c) => recordWithin(c, e));
    },
    async recordEvents(raws) {
      if (raws.length === 0) return;
      const events: AuditEvent[] = [];
      for (const raw of raws) events.push(await attributedIfActions(raw));
      // All or none, in the order given: a retried batch after a failure writes each event once.
      await inTransaction(deps.pool, async (c) => {
        for (const e of events) await recordWithin(c, e);
      });
    },
    recordWithin,
  };
}

/** Whether the trail already holds this `system.erased` execution (same `detail.execution`). */
async function alreadyRecorded(c: PoolClient, e: AuditEvent): Promise<boolean> {
  const execution = e.detail?.execution;
  if (typeof execution !== 'string') return false;
  const { rows } = await c.query('SELECT 1 FROM events WHERE request_id = $1 AND type = $2 AND detail->>\'execution\' = $3 LIMIT 1', [e.requestId, e.type, execution]);
  return rows.length > 0;
}

/** How many earlier events of the same type and scope the request's trail holds. */
async function countEarlier(c: PoolClient, e: AuditEvent, scope: Record<string, unknown>): Promise<number> {
  const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE request_id = $1 AND type = $2 AND detail @> $3::jsonb', [e.requestId, e.type, JSON.stringify(scope)]);
  return Number(rows[0].n);
}
