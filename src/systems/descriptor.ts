/**
 * The contract one kind of system fulfils, written once per kind in `src/systems/<kind>/index.ts`: its
 * catalog schema, what its plan snapshot keeps, its connector and what `erasure catalog check` does for it.
 *
 * The plan snapshot travels in workflow history, so it is built from an allow-list (`planFields`): a field
 * added to a kind's schema stays in the worker until someone names it there on purpose. `secrets` is the
 * other side of that decision, written down: the fields that must never leave the worker. `defineSystem`
 * refuses a descriptor whose allow-list names one of its secrets.
 */
import type { z } from 'zod';
import type { SystemPlan } from '../domain';
import type { CheckableConnector } from './connector-kit';

/** What every catalog entry has, whatever its kind (see `common` in ./fields.ts). */
export interface SystemBase {
  id: string;
  kind: string;
  description?: string;
  dependsOn: string[];
}

/** What a descriptor decides about a request's plan besides the snapshot: how the workflow treats the system, and the identifier names it can find for the others (`provides`). */
export type PlanTraits = Pick<SystemPlan, 'mode' | 'softDelete' | 'notify' | 'reminderEveryDays' | 'provides'>;

/** What `catalog check` reports for a system that passed (or was skipped); a failed check throws. */
export interface CheckOutcome {
  status: 'ok' | 'skip';
  message: string;
}

export interface CheckOptions {
  /** Longest wait for the system's answer. */
  timeoutMs: number;
}

/** A field of a kind's catalog entry, by name. */
type FieldOf<S> = Extract<keyof S, string>;

/** One kind of system. `Schema` is the zod schema of its catalog entry; `S` what parsing it yields. */
export interface SystemDescriptor<Schema extends z.ZodType<SystemBase> = z.ZodType<SystemBase>, S extends SystemBase = z.output<Schema>> {
  kind: S['kind'];
  /** The catalog entry, strict (a misspelt key is an error), with `kind` as a literal. */
  schema: Schema;
  /** The fields the plan snapshot keeps: what to erase, never how to connect. Everything else stays in the worker. */
  planFields: readonly FieldOf<S>[];
  /** The fields that must never leave the worker (credentials, and URLs that may embed them). */
  secrets: readonly FieldOf<S>[];
  /**
   * Plan fields that say how fast, never what (batch sizes, throttles): the worker compares every other plan
   * field of a task with its own catalog before erasing (src/catalog/plan-check.ts), and tuning these in the
   * catalog leaves open requests running under the new values.
   */
  tuning?: readonly FieldOf<S>[];
  /** How the workflow treats the system: automated or confirmed, soft-delete, notify, reminders, the identifiers it provides. */
  plan(system: S): PlanTraits;
  /** The connector the worker's activities use; absent when a person erases (manual). */
  connector?(system: S): CheckableConnector;
  /** What `erasure catalog check` does: reach the system and say what it found, or skip with a reason. */
  check(system: S, opts: CheckOptions): Promise<CheckOutcome>;
}

/**
 * Declares one kind of system. Throws at start-up when the plan allow-list names a secret.
 * @example export const manual = defineSystem({ kind: 'manual', schema, planFields: ['owner'], secrets: [], plan, check });
 */
export function defineSystem<Schema extends z.ZodType<SystemBase>>(descriptor: SystemDescriptor<Schema>): SystemDescriptor<Schema> {
  const leaked = descriptor.planFields.filter((f) => (descriptor.secrets as readonly string[]).includes(f));
  if (leaked.length > 0) throw new Error(`system kind "${descriptor.kind}": secret fields in planFields: ${leaked.join(', ')}`);
  const stray = (descriptor.tuning ?? []).filter((f) => !(descriptor.planFields as readonly string[]).includes(f));
  if (stray.length > 0) throw new Error(`system kind "${descriptor.kind}": tuning fields not in planFields: ${stray.join(', ')}`);
  return Object.freeze(descriptor);
}

/**
 * The plan snapshot of one catalog entry: id, kind and dependencies, the descriptor's traits, and a `spec`
 * holding only the allow-listed fields.
 * @example const plan = snapshot(postgres, catalogEntry);
 */
export function snapshot<S extends SystemBase>(descriptor: { planFields: readonly string[]; plan(system: S): PlanTraits }, system: S): SystemPlan {
  const spec: Record<string, unknown> = {};
  for (const field of descriptor.planFields) {
    const value = (system as unknown as Record<string, unknown>)[field];
    if (value !== undefined) spec[field] = value;
  }
  const { mode, softDelete, notify, reminderEveryDays, provides } = descriptor.plan(system);
  // Every key always present, so plans compare equal however a kind fills them; except `provides`, kept only
  // when the system provides something, so the plans of every other system stay as they were recorded before it.
  const plan: SystemPlan = { id: system.id, kind: system.kind as SystemPlan['kind'], mode, softDelete, dependsOn: system.dependsOn, reminderEveryDays, notify, spec };
  if (provides && provides.length > 0) plan.provides = [...new Set(provides)];
  return plan;
}

/**
 * Waits for `p` until `deadline` (epoch ms) at most, then stops waiting; `p` itself runs on, its failure ignored.
 */
async function waitUntil(p: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const settled = p.then(() => undefined, () => undefined);
  try {
    await Promise.race([settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `check` for a kind with a connector: build one, run its read-only check within the time limit, close it.
 * Closing counts against the same limit: a server that stopped answering can hang a close (a PostgreSQL
 * pool waits for its clients), and the check must still end when the limit says.
 * @example check: checkThrough((s) => postgresConnector(s)),
 */
export function checkThrough<S extends SystemBase>(build: (system: S) => CheckableConnector): SystemDescriptor<z.ZodType<S>, S>['check'] {
  return async (system, { timeoutMs }) => {
    const deadline = Date.now() + timeoutMs;
    const connector = build(system);
    let timer: NodeJS.Timeout | undefined;
    try {
      const message = await Promise.race([
        connector.check(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`system "${system.id}": no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return { status: 'ok', message };
    } finally {
      clearTimeout(timer);
      await waitUntil(connector.close(), deadline);
    }
  };
}
