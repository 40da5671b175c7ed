/**
 * Does a request's plan for one system still say what the worker's catalog says? The plan travels through
 * Temporal, where anyone who can start or edit a workflow could write one; the worker's catalog is the one
 * thing such a person cannot touch. So the worker compares what decides what is erased (the kind, the mode
 * and every field the kind's plan keeps) with the snapshot its own entry makes, and erases by its own.
 */
import { isDeepStrictEqual } from 'node:util';
import type { SystemPlan } from '../domain';
import { systemDescriptors, systemPlan } from '../systems/registry';
import { systemSchema, type SystemConfig } from './schema';

/** The value as JSON carries it (what a plan is after its trip through Temporal): `undefined` keys dropped. */
const asJson = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
const same = (a: unknown, b: unknown) => isDeepStrictEqual(asJson(a), asJson(b));
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The snapshot `entry` would make with the planned values in place of its plan fields, validated and
 * defaulted by today's schema; undefined when today's schema refuses them. A plan accepted before a field
 * gained a default (a table's `onShared`) then compares equal to the entry it was made from.
 */
function plannedUnderToday(entry: SystemConfig, planned: Record<string, unknown>, fields: readonly string[]): SystemPlan | undefined {
  const candidate: Record<string, unknown> = { ...entry };
  for (const f of fields) {
    if (planned[f] === undefined) delete candidate[f];
    else candidate[f] = planned[f];
  }
  const parsed = systemSchema.safeParse(candidate);
  return parsed.success ? systemPlan(parsed.data) : undefined;
}

/** What {@link checkPlan} found. */
export interface PlanCheck {
  /** The snapshot the worker's own entry makes: what the connector is handed. */
  current: SystemPlan;
  /** What differs, by name only (`kind`, `mode`, `spec.tables`), never a value; empty when the plan agrees. */
  differences: string[];
}

/**
 * Compares a task's plan for a system with the worker's catalog entry of the same id: kind, mode, the
 * identifier names it provides and its plan fields. Fields outside the
 * kind's plan fields are ignored (the connector never sees them), and so are the kind's `tuning` fields
 * and the orchestration traits (`dependsOn`, reminders), which change how fast or when, never what.
 * @example const { current, differences } = checkPlan(task.system, entry); if (differences.length) refuse(differences);
 */
export function checkPlan(planned: SystemPlan, entry: SystemConfig): PlanCheck {
  const current = systemPlan(entry);
  if (planned.kind !== current.kind) return { current, differences: ['kind'] };
  const descriptor = systemDescriptors[entry.kind] as { planFields: readonly string[]; tuning?: readonly string[] };
  const fields = descriptor.planFields.filter((f) => !descriptor.tuning?.includes(f));
  const spec = isRecord(planned.spec) ? planned.spec : {};
  let differing = fields.filter((f) => !same(spec[f], current.spec[f]));
  if (differing.length > 0) {
    const today = plannedUnderToday(entry, spec, fields);
    if (today) differing = differing.filter((f) => !same(today.spec[f], current.spec[f]));
  }
  const differences = differing.map((f) => `spec.${f}`);
  if (planned.mode !== current.mode) differences.unshift('mode');
  // The names a system may hand the others (`provides`): what it finds reaches every later task.
  const names = (p: unknown) => (Array.isArray(p) ? [...new Set(p.map(String))].sort() : []);
  if (!same(names(planned.provides), names(current.provides))) differences.push('provides');
  return { current, differences };
}
