/**
 * What every connector is and shares: the `Connector` contract, how failures are classified for
 * Temporal's retry policy, how evidence is hashed, and how long work heartbeats and resumes. Connectors run
 * inside activities and also in plain tests and the CLI; every helper here works without an activity
 * context (heartbeats become no-ops).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { failureTypes, type DerivedIdentifiers, type EraseResult, type SystemPreview, type SystemTask, type VerifyResult } from '../domain';

/**
 * What one system can do for an erasure. A connector is built once per system of the worker's catalog and
 * reused across requests; what to erase comes from `task.system.spec` (the plan snapshot), how to connect
 * from the catalog entry it was built from.
 */
export interface Connector {
  erase(task: SystemTask): Promise<EraseResult>;
  verify(task: SystemTask): Promise<VerifyResult>;
  softDelete?(task: SystemTask): Promise<{ affected: number }>;
  restore?(task: SystemTask): Promise<{ restored: number }>;
  /** Confirmation-mode systems: ask for the erasure (webhook in signal mode). */
  notify?(task: SystemTask): Promise<void>;
  /**
   * The values of the identifiers this system `provides` (catalog), found for the subject; changes nothing.
   * Called before anything is erased, so every system that matches on a derived identifier gets it.
   */
  identify?(task: SystemTask): Promise<DerivedIdentifiers>;
  /** What `erase` would do, per table / prefix / index, changing nothing. */
  preview?(task: SystemTask): Promise<SystemPreview>;
  close?(): Promise<void>;
}

/** A connector that can also report whether its system is reachable and shaped as the catalog says. */
export interface CheckableConnector extends Connector {
  /** Connects and checks what the catalog declares, changing nothing; resolves to a one-line summary or throws. */
  check(): Promise<string>;
  /** Releases pools and sockets. */
  close(): Promise<void>;
}

/** Failure type the workflow (and its retry policy) treats as permanent: an operator must act. */
export const NON_RETRYABLE_CONNECTOR_ERROR = failureTypes.nonRetryableConnector;

/** Name of the plain errors thrown for transient problems (Temporal retries them). */
export const TRANSIENT_CONNECTOR_ERROR = failureTypes.transientConnector;

/**
 * A permanent problem (missing table, bucket or index, bad credentials, a 4xx answer): retrying cannot
 * help. The message names the system and never contains identifier values.
 * @example throw nonRetryable('customers-db', 'table public.customers does not exist');
 */
export function nonRetryable(systemId: string, message: string, details?: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({
    type: NON_RETRYABLE_CONNECTOR_ERROR,
    nonRetryable: true,
    message: `system "${systemId}": ${message}`,
    details: details ? [details] : undefined,
  });
}

/** A transient problem (refused connection, timeout, 5xx): a plain error, so Temporal retries it. */
export class TransientConnectorError extends Error {
  override readonly name = TRANSIENT_CONNECTOR_ERROR;
  constructor(
    readonly systemId: string,
    message: string,
  ) {
    super(`system "${systemId}": ${message}`);
  }
}

/** True when `err` is (or wraps) the non-retryable connector failure. */
export function isNonRetryable(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.type === NON_RETRYABLE_CONNECTOR_ERROR;
}

// ---------------------------------------------------------------------------------------------------
// The transient window: a fault is transient until it has lasted too long
// ---------------------------------------------------------------------------------------------------

/** How long a transient fault may last, from the activity's first scheduling, before an operator must act. */
export const DEFAULT_TRANSIENT_WINDOW_MS = 15 * 60_000;

/**
 * A duration as an operator reads it in a message: seconds up to two minutes, then minutes, then hours.
 * @example humanDuration(21 * 60_000) // "21 minutes"
 */
export function humanDuration(ms: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return plural(s, 'second');
  const m = Math.round(s / 60);
  if (m < 120) return plural(m, 'minute');
  const h = Math.floor(m / 60);
  return m % 60 ? `${plural(h, 'hour')} ${plural(m % 60, 'minute')}` : plural(h, 'hour');
}

/**
 * `err` as Temporal should see it once the transient window is taken into account. A transient connector
 * error stays retryable while the activity is younger than `windowMs`, measured from when it was first
 * scheduled (`Info.scheduledTimestampMs`: the first attempt's, kept across retries); past it, the same
 * fault becomes a non-retryable failure saying how long it lasted. Everything else is returned as it is:
 * permanent failures are already permanent, and cancellations must stay what they are. Outside an activity
 * (plain tests, the CLI) there is no window: the error stays transient.
 * @example catch (err) { throw pastTransientWindow(err, 15 * 60_000); }
 */
export function pastTransientWindow(err: unknown, windowMs = DEFAULT_TRANSIENT_WINDOW_MS): unknown {
  if (!(err instanceof TransientConnectorError)) return err;
  const scheduled = activityContext()?.info.scheduledTimestampMs;
  if (typeof scheduled !== 'number' || !Number.isFinite(scheduled)) return err;
  const lasted = Date.now() - scheduled;
  if (lasted <= windowMs) return err;
  // The transient message without its system prefix and without its promise to retry.
  const fault = err.message.replace(/^system "[^"]*": /, '').replace(/;? will retry(ing later)?$/, '');
  return nonRetryable(err.systemId, `${fault}; still failing ${humanDuration(lasted)} after this step was first scheduled (transient window ${humanDuration(windowMs)})`, {
    transientForMs: lasted,
    windowMs,
  });
}

/**
 * `connector` with every operation's transient failures passed through {@link pastTransientWindow}: what
 * the activities call, so one fault that outlasts the window reaches `needs_attention` instead of being
 * retried for days.
 * @example const c = withTransientWindow(connectorFor(entry), config.ERASURE_TRANSIENT_WINDOW);
 */
export function withTransientWindow<C extends Connector>(connector: C, windowMs = DEFAULT_TRANSIENT_WINDOW_MS): C {
  // A proxy rather than a copy: connectors built as class instances keep their prototype's methods.
  return new Proxy(connector, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function' || name === 'close') return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (err) {
          throw pastTransientWindow(err, windowMs);
        }
      };
    },
  });
}

/** Node's network error codes that mean "try again later". */
const transientNetworkCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);

/** The network error code of `err` or its cause, when it is one that retrying can cure. */
export function transientNetworkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && transientNetworkCodes.has(code)) return code;
    const errors = (e as { errors?: unknown }).errors; // AggregateError from happy-eyeballs connects
    if (Array.isArray(errors)) {
      const inner = errors.map(transientNetworkCode).find(Boolean);
      if (inner) return inner;
    }
    if ((e as { name?: unknown }).name === 'TimeoutError') return 'TIMEOUT';
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Evidence
// ---------------------------------------------------------------------------------------------------

/** JSON with object keys sorted at every level, so equal evidence always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * SHA-256 (hex) of what a connector did: queries with placeholders, key templates, the index and query
 * shape, plus the subject reference. Identifier values are never part of it: an unsalted hash of an
 * e-mail address can be reversed by guessing.
 */
export function evidenceHash(evidence: unknown): string {
  return createHash('sha256').update(canonicalJson(evidence)).digest('hex');
}

/**
 * The evidence hash of one operation on one system: the system's id and kind and the subject reference,
 * with what was done. Key order does not matter (canonical JSON), so equal evidence always hashes the same.
 * @example evidenceFor(system, task, { bucket, prefixes, keys })
 */
export function evidenceFor(system: { id: string; kind: string }, task: Pick<SystemTask, 'subjectRef'>, what: Record<string, unknown>): string {
  return evidenceHash({ system: system.id, kind: system.kind, subjectRef: task.subjectRef, ...what });
}

// ---------------------------------------------------------------------------------------------------
// Activity context: heartbeats, resume, cancellation
// ---------------------------------------------------------------------------------------------------

/** The current activity context, or undefined when called outside an activity (plain tests, the CLI). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** One operation's progress as {@link withProgress} tracks it: where to resume from, and the last heartbeat. */
interface Progress {
  resume?: unknown;
  last?: unknown;
}
const progressStore = new AsyncLocalStorage<Progress>();

/** Records progress; Temporal hands the last recorded value to the next attempt. No-op outside an activity. */
export function heartbeat(details: unknown): void {
  const progress = progressStore.getStore();
  if (progress) progress.last = details;
  activityContext()?.heartbeat(details);
}

/**
 * The progress the previous attempt recorded, when it belongs to the same operation (`op`): this activity's
 * own last heartbeat, or else the one an interrupted activity handed over ({@link withProgress}).
 * @example const start = resumeFrom<PgProgress>('erase') ?? fresh();
 */
export function resumeFrom<T extends { op: string }>(op: T['op']): T | undefined {
  const details = (activityContext()?.info.heartbeatDetails ?? progressStore.getStore()?.resume) as T | undefined;
  return details && typeof details === 'object' && details.op === op ? details : undefined;
}

/**
 * Runs one long operation so that it can be stopped and resumed: `resume` is the progress an earlier,
 * interrupted activity reported (for {@link resumeFrom}); when this one is cancelled (a legal hold) and
 * stops between batches, its cancellation carries its last heartbeat, so the workflow can hand it to the
 * activity that continues after the hold.
 * @example await withProgress(task.resume, () => connector.erase(task));
 */
export async function withProgress<T>(resume: unknown, fn: () => Promise<T>): Promise<T> {
  const progress: Progress = { resume };
  try {
    return await progressStore.run(progress, fn);
  } catch (err) {
    // A connector may have wrapped the cancellation (its error classifier sees an unknown error): once the
    // activity is cancelled, whatever ended it is the cancellation.
    const cancelled = err instanceof CancelledFailure || activityContext()?.cancellationSignal.aborted === true;
    if (!cancelled) throw err;
    throw new CancelledFailure(err instanceof CancelledFailure ? err.message : 'cancelled', [progress.last ?? progress.resume ?? null]);
  }
}

/** The attempt number (1 outside an activity). */
export function attemptNumber(): number {
  return activityContext()?.info.attempt ?? 1;
}

/** Throws the cancellation reason if the activity was cancelled (checked between batches). */
export function throwIfCancelled(): void {
  const signal = activityContext()?.cancellationSignal;
  if (signal?.aborted) throw signal.reason ?? new Error('activity cancelled');
}

/** Waits `ms`, ending early (with the cancellation) if the activity is cancelled. */
export async function pause(ms: number): Promise<void> {
  const signal = activityContext()?.cancellationSignal;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('activity cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Milliseconds since `started`, for receipts. */
export const elapsed = (started: number): number => Date.now() - started;
