/**
 * The audit log as the workflow's activities see it: every event is appended to the trail, and the events
 * that change what the ledger says about a request also update its row, so the API's ledger answers and
 * the metrics follow the workflow: `phase.<phase>` moves the status, `deadline.extended` the deadline.
 */
import { z } from 'zod';
import type { AuditLog } from '../activities';
import type { AuditEvent } from '../activities/types';
import type { Attestor } from '../attestation';
import { attestedFields, auditEventTypes, formatIssues, isOneOf, phaseNamedBy, phases, type OperatorActionEntry } from '../domain';
import type { Logger } from '../logger';
import type { Pool } from './db';
import { appendEvent } from './events';
import { createRequestRepository, type RequestRepository } from './requests';

/**
 * An `operator.actions` batch as the ledger keeps it: each entry's claim is checked and replaced by how the
 * action arrived (`via`, and `actor` when the claim verified), so the trail names authenticated keys only.
 */
function attributed(e: AuditEvent, attestor: Attestor | undefined): AuditEvent {
  const actions = (e.detail as { actions?: unknown } | undefined)?.actions;
  if (!Array.isArray(actions)) return e;
  const entries = (actions as OperatorActionEntry[]).map(({ attestation, ...entry }) => {
    const target = attestedFields(entry);
    const arrival = attestor ? attestor.arrival(attestation, { requestId: e.requestId, signal: entry.signal, at: entry.at, target }) : { via: 'temporal' as const, ...(attestation ? { claimRejected: true as const } : {}) };
    return { ...entry, ...arrival };
  });
  return { ...e, detail: { ...e.detail, actions: entries } };
}

/** What the workflow records after an accepted extension; only `deadline` moves the row. */
const deadlineExtendedSchema = z.object({ deadline: z.iso.datetime({ offset: true }) });

/**
 * Builds the activities' {@link AuditLog} on the ledger. A detail the ledger cannot use is logged and
 * left in the trail, never thrown: failing an audit activity would stall the erasure itself.
 * @example const audit = createActivityAudit({ pool, logger }); await audit.recordEvent({ requestId, type: 'phase.erasing' });
 */
export function createActivityAudit(deps: { pool: Pool; logger?: Logger; requests?: RequestRepository; attestor?: Attestor }): AuditLog {
  const requests = deps.requests ?? createRequestRepository(deps.pool);
  return {
    async recordEvent(e) {
      await appendEvent(deps.pool, e.type === auditEventTypes.operatorActions ? attributed(e, deps.attestor) : e);
      const phase = phaseNamedBy(e.type);
      if (phase !== undefined) {
        if (isOneOf(phases, phase)) await requests.recordPhase(e.requestId, phase);
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
        await requests.extendDeadline(e.requestId, new Date(parsed.data.deadline));
      }
    },
  };
}
