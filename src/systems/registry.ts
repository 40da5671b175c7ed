/**
 * The one list of the kinds of system the engine can erase from. The catalog schema, the plan builder,
 * the worker's connectors and `erasure catalog check` all read it; adding a kind is a folder under
 * `src/systems/` and one line here.
 *
 * Workflow code may import this file's types only: the descriptors carry zod schemas and connector loaders.
 */
import type { z } from 'zod';
import type { SystemPlan } from '../domain';
import type { CheckableConnector, Connector } from './connector-kit';
import { snapshot, type CheckOptions, type CheckOutcome } from './descriptor';
import { elasticsearch } from './elasticsearch';
import { manual } from './manual';
import { postgres } from './postgres';
import { s3 } from './s3';
import { webhook } from './webhook';

/** Every kind, by name. The order is the one error messages list them in. */
export const systemDescriptors = { postgres, s3, elasticsearch, webhook, manual };

export type SystemKind = keyof typeof systemDescriptors;

/** The kinds' names, in the registry's order. */
export const systemKinds = Object.keys(systemDescriptors) as SystemKind[];

/** A system's catalog entry, of whichever kind. */
export type SystemConfig = { [K in SystemKind]: z.output<(typeof systemDescriptors)[K]['schema']> }[SystemKind];

/** Builds the connector for one system of the worker's catalog. */
export type ConnectorFactory = (system: SystemConfig) => Connector;

/**
 * One descriptor as a function of any catalog entry. The entry's `kind` picked the descriptor, so the
 * one cast here is what the discriminated union already proved.
 */
function descriptorOf(system: SystemConfig) {
  const descriptor = systemDescriptors[system.kind];
  return descriptor as unknown as {
    planFields: readonly string[];
    plan(s: SystemConfig): ReturnType<typeof descriptor.plan>;
    connector?(s: SystemConfig): CheckableConnector;
    check(s: SystemConfig, opts: CheckOptions): Promise<CheckOutcome>;
  };
}

/**
 * A system's plan snapshot, built by its kind's descriptor (secrets never in it).
 * @example const plan = systemPlan(catalog.systems[0]); // { id, kind, mode, softDelete, dependsOn, spec, … }
 */
export function systemPlan(system: SystemConfig): SystemPlan {
  return snapshot(descriptorOf(system), system);
}

/**
 * The connector for a system, or undefined when its kind has none (manual).
 * @example const c = connectorFor(catalogEntry); await c?.erase(task);
 */
export function connectorFor(system: SystemConfig): CheckableConnector | undefined {
  return descriptorOf(system).connector?.(system);
}

/**
 * What `erasure catalog check` does for one system; throws when the system fails the check.
 * @example const { status, message } = await checkSystem(catalogEntry, { timeoutMs: 10_000 });
 */
export function checkSystem(system: SystemConfig, opts: CheckOptions): Promise<CheckOutcome> {
  return descriptorOf(system).check(system, opts);
}

/**
 * Whether `kind` is one the registry knows. A plan recorded by another engine version may name a kind this
 * worker does not have.
 * @example if (!isSystemKind(task.system.kind)) throw configurationError(...);
 */
export function isSystemKind(kind: string): kind is SystemKind {
  return Object.hasOwn(systemDescriptors, kind);
}

/** Whether a kind has a connector; without one (manual) a person erases and confirms. */
export function hasConnector(kind: SystemKind): boolean {
  return systemDescriptors[kind]?.connector !== undefined;
}

/**
 * The connector factories of every kind that has one: what `createActivities` and `createEngineWorker` use
 * when given no map (tests pass their own instead).
 * @example createEngineWorker(engine, { connectors: { ...defaultConnectors, webhook: recordingWebhook } });
 */
export const defaultConnectors: Partial<Record<SystemKind, ConnectorFactory>> = Object.fromEntries(
  systemKinds
    .filter(hasConnector)
    .map((kind) => [kind, (system: SystemConfig) => connectorFor(system)!]),
);
