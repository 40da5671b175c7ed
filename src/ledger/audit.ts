/**
 * The audit log as the workflow's activities see it: every event is appended to the trail, and the events
 * that change what the ledger says about a request also update its row, so the API's ledger answers and
 * the metrics follow the workflow: `phase.<phase>` moves the status, `deadline.extended` the deadline.
 */
import { z } from 'zod';
import type { AuditLog } from '../activities';
import { auditEventTypes, formatIssues, isOneOf, phaseNamedBy, phases } from '../domain';
import type { Logger } from '../logger';
import type { Pool } from './db';
import { appendEvent } from './events';
import { createRequestRepository, type RequestRepository } from './requests';

/** What the workflow records after an accepted extension; only `deadline` moves the row. */
const deadlineExtendedSchema = z.object({ deadline: z.iso.datetime({ offset: true }) });

/**
 * Builds the activities' {@link AuditLog} on the ledger. A detail the ledger cannot use is logged and
 * left in the trail, never thrown: failing an audit activity would stall the erasure itself.
 * @example const audit = createActivityAudit({ pool, logger }); await audit.recordEvent({ requestId, type: 'phase.erasing' });
 */
export function createActivityAudit(deps: { pool: Pool; logger?: Logger; requests?: RequestRepository }): AuditLog {
  const requests = deps.requests ?? createRequestRepository(deps.pool);
  return {
    async recordEvent(e) {
      await appendEvent(deps.pool, e);
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
