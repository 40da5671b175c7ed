/** Small helpers shared by the connector tests. */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { systemPlan } from '../../src/catalog/load';
import { systemSchema, type SystemConfig } from '../../src/catalog/schema';
import type { SystemTask } from '../../src/activities/types';
import type { SubjectIdentifiers } from '../../src/domain';
import { NON_RETRYABLE_CONNECTOR_ERROR, TRANSIENT_CONNECTOR_ERROR } from '../../src/systems/connector-kit';

export const alice: SubjectIdentifiers = { email: 'alice@example.com', userId: 'u-alice', phone: '+4915112345678' };
export const bob: SubjectIdentifiers = { email: 'bob@example.com', userId: 'u-bob' };

/** A catalog entry as the loader would produce it (defaults applied, validated). */
export function system<T extends SystemConfig['kind']>(raw: Record<string, unknown> & { kind: T }): Extract<SystemConfig, { kind: T }> {
  return systemSchema.parse(raw) as Extract<SystemConfig, { kind: T }>;
}

let n = 0;
/** The task the erase/verify activities receive: the plan snapshot has no secrets. */
export function taskFor(sys: SystemConfig, subject: SubjectIdentifiers, requestId = `req-${++n}`): SystemTask {
  return { requestId, subject, subjectRef: `subj_${requestId}`, system: systemPlan(sys) };
}

/** Awaits a rejection and returns the error. */
export async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected the call to fail');
}

/** Asserts a permanent connector failure whose message names the system and contains `fragment`. */
export function assertNonRetryable(err: Error, systemId: string, fragment: RegExp | string): void {
  assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${err.name}: ${err.message}`);
  assert.equal(err.type, NON_RETRYABLE_CONNECTOR_ERROR);
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, new RegExp(`system "${systemId}"`));
  assert.match(err.message, typeof fragment === 'string' ? new RegExp(fragment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : fragment);
}

/** Asserts a transient (retryable) connector failure naming the system. */
export function assertRetryable(err: Error, systemId: string): void {
  assert.equal(err.name, TRANSIENT_CONNECTOR_ERROR, `expected a transient error, got ${err.name}: ${err.message}`);
  assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable));
  assert.match(err.message, new RegExp(`system "${systemId}"`));
}

/** Asserts no identifier value of any subject leaks into a message. */
export function assertNoPii(message: string, ...subjects: SubjectIdentifiers[]): void {
  for (const s of subjects) {
    for (const v of [s.email, s.userId, s.phone, ...Object.values(s.custom ?? {})]) {
      if (v) assert.ok(!message.includes(v) && !message.includes(encodeURIComponent(v)), `message leaks an identifier: ${message}`);
    }
  }
}

/** Runs `fn` inside a real activity context (heartbeats recorded), optionally resuming from details. */
export async function inActivity<R>(fn: () => Promise<R>, opts: { heartbeatDetails?: unknown; attempt?: number } = {}): Promise<{ result: R; heartbeats: unknown[] }> {
  const env = new MockActivityEnvironment({ heartbeatDetails: opts.heartbeatDetails, attempt: opts.attempt ?? 1 });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => heartbeats.push(structuredClone(d)));
  const result = (await env.run(fn)) as R;
  return { result, heartbeats };
}
