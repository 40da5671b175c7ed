/** Small helpers shared by the connector tests. */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { systemPlan } from '../../src/catalog/load';
import { systemSchema, type SystemConfig } from '../../src/catalog/schema';
import type { DerivedIdentifiers, EraseResult, SubjectIdentifiers, SystemTask } from '../../src/domain';
import { NON_RETRYABLE_CONNECTOR_ERROR, TRANSIENT_CONNECTOR_ERROR, type Connector } from '../../src/systems/connector-kit';

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

/**
 * A task whose subject also has identifiers other systems derived (`provides`), as the workflow hands them on.
 * @example derivedTaskFor(entry, { email: 'a@example.com' }, { userId: ['17', '18'] })
 */
export function derivedTaskFor(sys: SystemConfig, subject: SubjectIdentifiers, derived: DerivedIdentifiers, requestId?: string): SystemTask {
  return { ...taskFor(sys, subject, requestId), derived };
}

/** The keys the plan builder left out before each kind allow-listed its plan fields (a deny-list). */
const oldDenyList = new Set(['connection', 'secret', 'password', 'secretAccessKey', 'accessKeyId', 'sessionToken', 'username', 'apiKey', 'hmacKey']);

/**
 * The task of a request accepted before the restructure, still in flight: its plan's `spec` is the whole
 * parsed catalog entry minus the old deny-list (so it also holds `id`, `kind`, node URLs, timeouts, …).
 * @example await conn.erase(oldStyleTaskFor(entry, alice));
 */
export function oldStyleTaskFor(sys: SystemConfig, subject: SubjectIdentifiers, requestId = `req-old-${++n}`): SystemTask {
  const spec = Object.fromEntries(Object.entries(sys).filter(([key]) => !oldDenyList.has(key)));
  const task = taskFor(sys, subject, requestId);
  // Everything the allow-list keeps was in the old spec too, next to what it now leaves out.
  for (const [key, value] of Object.entries(task.system.spec)) assert.deepEqual(spec[key], value, `the old spec has ${key}`);
  assert.ok(Object.keys(spec).length > Object.keys(task.system.spec).length, 'the old spec holds more than the allow-list');
  return { ...task, system: { ...task.system, spec } };
}

/**
 * What must hold once an old-style task erased: verifying with it finds nothing left, and erasing the same
 * request with today's plan finds nothing and hashes the same evidence.
 * @example assertErasedAsToday(conn, entry, old, await conn.erase(old));
 */
export async function assertErasedAsToday(conn: Connector, sys: SystemConfig, old: SystemTask, erased: EraseResult): Promise<void> {
  assert.deepEqual(await conn.verify(old), { remaining: 0 });
  const today = await conn.erase(taskFor(sys, old.subject, old.requestId));
  assert.equal(today.found, 0);
  assert.equal(today.evidenceHash, erased.evidenceHash, 'the same evidence as a plan of today');
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
