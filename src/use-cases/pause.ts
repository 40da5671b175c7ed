/**
 * Pausing one system for every request (maintenance, a broken connector) and resuming it.
 *
 * The ledger is the authority: while a system is paused there, the worker's erase and verify activities for it
 * touch nothing and fail with `SystemPausedError`, and the lanes wait without spending retries (a lane looks
 * again at least hourly). So that the running requests show `paused` at once, stop an erase in flight, and
 * go on the moment the system is resumed, the engine also tells them with the `systemPause` signal, sent to
 * every running erasure that still waits for the system by one Temporal batch operation.
 */
import { randomUUID } from 'node:crypto';
import { encodeToPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { systemPlan } from '../systems/registry';
import type { PauseLogEntry, SystemPause } from '../ledger/pauses';
import { ERASURE_WORKFLOW_TYPE, ErasurePendingSystemsKey, systemPauseSignal, type SystemPauseNotice } from '../workflows/definitions';
import { UseCaseError } from './errors';
import type { UseCaseDeps } from './types';

/** A system as `GET /systems` lists it. */
export interface SystemView {
  id: string;
  kind: string;
  mode: 'automated' | 'confirmation';
  paused?: SystemPause;
}

/** What a pause or resume answers. */
export interface PauseAnswer {
  system: string;
  paused: boolean;
  /** The pause in force (after a pause), or the one that ended (after a resume). */
  pause?: SystemPause;
  /** False when the system already was in the asked state: nothing was logged or sent. */
  changed: boolean;
  /** Running requests that still wait for the system, told at once (the others look again on their own). */
  notified: number;
  /** Temporal's batch job that carries the notice, when one was started. */
  batchJobId?: string;
}

const requirePauses = (deps: UseCaseDeps) => {
  if (!deps.pauses) throw new UseCaseError('unavailable', 'pausing systems needs the ledger in this process');
  return deps.pauses;
};

/** The catalog entry of `systemId`, which must be erased by the engine (an automated system). */
function automatedSystem(deps: UseCaseDeps, systemId: string) {
  const system = deps.intake.catalog().systems.find((s) => s.id === systemId);
  if (!system) throw new UseCaseError('not_found', `system "${systemId}" is not in the catalog`);
  if (systemPlan(system).mode !== 'automated') {
    throw new UseCaseError('invalid', `system "${systemId}" is confirmed by its owner, not erased by the engine, so there is nothing to pause; its requests wait for the owner anyway`);
  }
  return system;
}

/** Every system of the catalog with its pause, if any. */
export async function listSystems(deps: UseCaseDeps): Promise<{ systems: SystemView[] }> {
  let pauses: SystemPause[];
  try {
    pauses = await requirePauses(deps).list();
  } catch (err) {
    if (err instanceof UseCaseError) throw err;
    throw new UseCaseError('unavailable', 'the ledger did not answer; try again', {}, { cause: err });
  }
  const byId = new Map(pauses.map((p) => [p.systemId, p]));
  return {
    systems: deps.intake.catalog().systems.map((s) => {
      const paused = byId.get(s.id);
      return { id: s.id, kind: s.kind, mode: systemPlan(s).mode, ...(paused ? { paused } : {}) };
    }),
  };
}

/** The log of pauses and resumes (one system, or all), newest first. */
export async function pauseHistory(deps: UseCaseDeps, systemId?: string): Promise<{ entries: PauseLogEntry[] }> {
  try {
    return { entries: await requirePauses(deps).log(systemId, 200) };
  } catch (err) {
    if (err instanceof UseCaseError) throw err;
    throw new UseCaseError('unavailable', 'the ledger did not answer; try again', {}, { cause: err });
  }
}

/**
 * Tells every running erasure that still waits for `system`, by one batch operation. Resolves to how many
 * there were and the batch job; a failure to reach Temporal is logged and leaves the lanes to find out on
 * their own (the ledger already holds the change).
 */
async function notify(deps: UseCaseDeps, notice: SystemPauseNotice, actor: string): Promise<{ notified: number; batchJobId?: string }> {
  const query = `WorkflowType = '${ERASURE_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND ${ErasurePendingSystemsKey.name} = '${notice.system}'`;
  const deadline = Date.now() + (deps.timeouts?.actionMs ?? 10_000);
  try {
    const { count } = await deps.client.connection.withDeadline(deadline, () => deps.client.workflow.count(query));
    if (count === 0) return { notified: 0 };
    const jobId = `pause-${randomUUID()}`;
    const input = await encodeToPayloads(deps.client.options.loadedDataConverter, notice);
    await deps.client.connection.withDeadline(deadline, () =>
      deps.client.connection.workflowService.startBatchOperation({
        namespace: deps.namespace,
        jobId,
        reason: `${notice.paused ? 'pause' : 'resume'} ${notice.system} by API key "${actor}"`,
        visibilityQuery: query,
        signalOperation: { signal: systemPauseSignal.name, input: { payloads: input }, identity: `erasure-api: ${actor}` },
      }),
    );
    return { notified: count, batchJobId: jobId };
  } catch (err) {
    deps.logger.warn({ system: notice.system, err: { message: (err as Error).message } }, 'running requests were not told of the pause change; their lanes look again on their own');
    return { notified: 0 };
  }
}

/**
 * Pauses `systemId` for every request on behalf of the API key `actor`; `reason` says why (no personal data).
 * @example await pauseForAll(deps, 'crm', 'connector upgrade until 14:00', 'ops-alice');
 */
export async function pauseForAll(deps: UseCaseDeps, systemId: string, reason: string, actor: string): Promise<PauseAnswer> {
  automatedSystem(deps, systemId);
  const pauses = requirePauses(deps);
  let done;
  try {
    done = await pauses.pause(systemId, actor, reason);
  } catch (err) {
    throw new UseCaseError('unavailable', 'the ledger did not record the pause; nothing changed, try again', {}, { cause: err });
  }
  if (!done.created) return { system: systemId, paused: true, pause: done.pause, changed: false, notified: 0 };
  const told = await notify(deps, { system: systemId, paused: true }, actor);
  if (done.logId) await pauses.noteNotified(done.logId, told.notified).catch(() => undefined);
  deps.logger.info({ system: systemId, actor, notified: told.notified }, 'system paused for every request');
  return { system: systemId, paused: true, pause: done.pause, changed: true, ...told };
}

/**
 * Resumes `systemId` on behalf of `actor`: every lane waiting for it goes on at once.
 * @example await resumeForAll(deps, 'crm', 'ops-alice');
 */
export async function resumeForAll(deps: UseCaseDeps, systemId: string, actor: string): Promise<PauseAnswer> {
  automatedSystem(deps, systemId);
  const pauses = requirePauses(deps);
  let ended;
  try {
    ended = await pauses.resume(systemId, actor);
  } catch (err) {
    throw new UseCaseError('unavailable', 'the ledger did not record the resume; nothing changed, try again', {}, { cause: err });
  }
  if (!ended) return { system: systemId, paused: false, changed: false, notified: 0 };
  const told = await notify(deps, { system: systemId, paused: false }, actor);
  await pauses.noteNotified(ended.logId, told.notified).catch(() => undefined);
  deps.logger.info({ system: systemId, actor, notified: told.notified }, 'system resumed for every request');
  return { system: systemId, paused: false, pause: ended.ended, changed: true, ...told };
}
