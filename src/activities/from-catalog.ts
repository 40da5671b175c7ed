/**
 * The worker decides what is erased, not the task. A task names its system by id and carries the plan the
 * request was accepted under; the activity looks the id up in the worker's own catalog, refuses the task
 * when its plan says something else than that entry, and hands the connector the entry's own snapshot.
 * Whoever can start a workflow therefore cannot name a table, column, bucket, prefix, index, query or URL
 * that the catalog does not declare.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Catalog, SystemConfig } from '../catalog/schema';
import { checkPlan } from '../catalog/plan-check';
import { failureTypes, type SystemTask } from '../domain';

/** A permanent failure: the worker's catalog cannot serve the task. */
export const configurationError = (message: string) => ApplicationFailure.create({ type: failureTypes.configuration, nonRetryable: true, message });

/**
 * The task as the worker's catalog says it: the same request and subject, the system as the catalog entry
 * of that id snapshots it. Throws a non-retryable `ConfigurationError` when the catalog has no such system,
 * and a non-retryable `PlanMismatchError` naming what differs (field names, never values) when the plan
 * disagrees with the entry, before anything is touched.
 * @example const task = fromCatalog(deps.catalog, raw); await connector.erase(task.task);
 */
export function fromCatalog(catalog: Catalog, task: SystemTask): { task: SystemTask; entry: SystemConfig } {
  const id = task.system?.id;
  const entry = catalog.systems.find((s) => s.id === id);
  if (!entry) throw configurationError(`system "${String(id)}" is not in the worker's catalog`);
  const { current, differences } = checkPlan(task.system, entry);
  if (differences.length > 0) {
    throw ApplicationFailure.create({
      type: failureTypes.planMismatch,
      nonRetryable: true,
      message:
        `system "${entry.id}": the request's plan differs from this worker's catalog in ${differences.join(', ')}, so nothing was changed. ` +
        "Either the catalog entry was edited after the request was accepted (put the entry back and send retrySystem), or the plan was not written by the engine's intake",
      details: [{ system: entry.id, differences }],
    });
  }
  return { task: { ...task, system: current }, entry };
}
