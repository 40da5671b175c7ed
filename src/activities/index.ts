/**
 * Builds the erasure activities from injected dependencies. The worker's own catalog says what to erase and
 * how to connect: a task's plan snapshot must agree with it (./from-catalog.ts), and the connector is handed
 * the catalog entry's snapshot, never the task's (secrets never enter workflow history).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from '../logger';
import type { EngineMetrics } from '../metrics';
import type { Catalog } from '../catalog/schema';
import type { PauseReader } from '../ledger/pauses';
import {
  auditEventTypes,
  escalationEventType,
  failureTypes,
  formatIssues,
  keepProvided,
  subjectIdentifiersSchema,
  type DerivedIdentifiers,
  type EraseResult,
  type SystemTask,
} from '../domain';
import { withProgress, withTransientWindow, type Connector } from '../systems/connector-kit';
import { defaultConnectors, hasConnector, isSystemKind, systemKinds, type ConnectorFactory, type SystemKind } from '../systems/registry';
import { configurationError, fromCatalog } from './from-catalog';
import type { AuditEvent, CertificateRequest, ConsumerAnnouncement, ErasureActivities, Escalation, Reminder } from './types';

export type { ErasureActivities } from './types';
export type { Connector } from '../systems/connector-kit';
export type { ConnectorFactory } from '../systems/registry';

/** Where reminders, escalations and consumer announcements go. */
export interface Notifier {
  announce(a: ConsumerAnnouncement): Promise<void>;
  remind(r: Reminder): Promise<void>;
  escalate(e: Escalation): Promise<void>;
  /** A manual system's owner is asked to erase (src/notify queues the e-mail / chat message); optional. */
  requestErasure?(r: { requestId: string; subjectRef: string; systemId: string }): Promise<void>;
}

/** The ledger's part the activities use. */
export interface AuditLog {
  recordEvent(e: AuditEvent): Promise<void>;
  /** Several events in one transaction, in order (a workflow's phase changes, batched); one by one without it. */
  recordEvents?(events: AuditEvent[]): Promise<void>;
}

export interface CertificateIssuer {
  issue(req: CertificateRequest): Promise<{ certificateId: string }>;
}

export interface ActivityDeps {
  catalog: Catalog;
  /**
   * The connector factory per kind. Defaults to the registry's (src/systems/registry.ts); a map given here
   * replaces it whole, so a kind it leaves out has no connector (tests inject their own).
   */
  connectors?: Partial<Record<SystemKind, ConnectorFactory>>;
  notifier: Notifier;
  audit: AuditLog;
  certificates: CertificateIssuer;
  logger: Logger;
  /** Per-system erase durations and failures. */
  metrics?: EngineMetrics;
  /**
   * How long a transient connector fault may last, from an activity's first scheduling, before it is
   * reported as permanent (`ERASURE_TRANSIENT_WINDOW`; default 15 minutes): see `pastTransientWindow`.
   */
  transientWindowMs?: number;
  /**
   * Systems paused for every request (src/ledger/pauses.ts): erase and verify of a paused system touch nothing
   * and fail with `SystemPausedError`, which the workflow's lane turns into a wait. Absent: nothing is paused.
   */
  pauses?: PauseReader;
}

/**
 * The running activity's identity, the same on every retry of one scheduled activity: the ledger records a
 * retried erase's `system.erased` once. Empty outside an activity (activities called directly in tests).
 */
function activityExecution(): { execution?: string } {
  try {
    const { workflowExecution, activityId } = Context.current().info;
    return workflowExecution ? { execution: `${workflowExecution.runId}:${activityId}` } : {};
  } catch {
    return {};
  }
}

/** A notifier that writes structured log lines; a real deployment plugs in mail, chat or a pager. */
export function logNotifier(logger: Logger): Notifier {
  return {
    async announce(a) {
      logger.info({ requestId: a.requestId, subjectRef: a.subjectRef, consumers: a.consumers }, 'erasure announced to consumers');
    },
    async remind(r) {
      logger.warn({ requestId: r.requestId, system: r.systemId, owner: r.owner, remindersSent: r.remindersSent, deadline: r.deadline }, 'erasure confirmation reminder');
    },
    async escalate(e) {
      logger.error({ requestId: e.requestId, reason: e.reason, systems: e.systemIds, consumers: e.consumerIds, deadline: e.deadline, detail: e.message }, 'erasure escalated');
    },
  };
}

/**
 * Creates the activity implementations the worker registers.
 * @example new Worker({ activities: createActivities(deps), ... })
 */
export function createActivities(deps: ActivityDeps): ErasureActivities & { closeConnectors(): Promise<void> } {
  const factories = deps.connectors ?? defaultConnectors;
  const built = new Map<string, Connector>();
  /**
   * The identifiers as the intake would accept them today, and the system as the worker's catalog has it. A
   * subject that breaks a rule (a phone of fewer than seven digits, which many people share) reaches no
   * system, and neither does a plan the catalog disagrees with, whichever way its workflow was started.
   */
  const checked = (task: SystemTask): SystemTask => {
    const parsed = subjectIdentifiersSchema.safeParse(task.subject);
    // What to act on comes from the worker's catalog, once the plan in the task is found to agree with it.
    if (parsed.success) return fromCatalog(deps.catalog, { ...task, subject: parsed.data }).task;
    throw ApplicationFailure.create({
      type: failureTypes.invalidSubject,
      nonRetryable: true,
      message: `request ${task.requestId}: the subject's identifiers break the engine's rules (${formatIssues(parsed.error, { prefix: 'subject' })}); nothing was matched`,
    });
  };
  /** A paused system is not touched: the lane waits for the resume instead of spending retries. */
  const refuseWhilePaused = async (task: SystemTask): Promise<void> => {
    const pause = await deps.pauses?.pausedNow(task.system.id);
    if (!pause) return;
    throw ApplicationFailure.create({
      type: failureTypes.systemPaused,
      nonRetryable: true,
      message: `system "${task.system.id}" is paused for every request since ${pause.pausedAt} by "${pause.pausedBy}"; nothing was touched, the request waits for the resume`,
    });
  };
  const connectorFor = (systemId: string): Connector => {
    let c = built.get(systemId);
    if (c) return c;
    const system = deps.catalog.systems.find((s) => s.id === systemId);
    if (!system) throw configurationError(`system "${systemId}" is not in the worker's catalog`);
    const factory = factories[system.kind];
    if (!factory) throw configurationError(`no connector for kind "${system.kind}" (system "${systemId}")`);
    c = withTransientWindow(factory(system), deps.transientWindowMs);
    built.set(systemId, c);
    return c;
  };

  return {
    async identifySystem(raw) {
      const task = checked(raw);
      const provides = task.system.provides ?? [];
      const c = connectorFor(task.system.id);
      if (!c.identify) {
        throw configurationError(`system "${task.system.id}" is planned to provide ${provides.join(', ') || 'identifiers'}, but its connector cannot identify`);
      }
      const { derived, dropped } = keepProvided(task.system.provides ?? [], await c.identify(task));
      // Counts as `name=n` text: the logger redacts keys such as `email` and `phone` wherever they appear.
      const counts = Object.entries(derived).map(([name, values]) => `${name}=${values.length}`);
      deps.logger.info({ requestId: task.requestId, subjectRef: task.subjectRef, system: task.system.id, derived: counts, dropped }, 'system identified');
      return derived;
    },
    async softDeleteSystem(raw) {
      const task = checked(raw);
      const c = connectorFor(task.system.id);
      return c.softDelete ? withProgress(task.resume, () => c.softDelete!(task)) : { affected: 0 };
    },
    async restoreSystem(raw) {
      const task = checked(raw);
      const c = connectorFor(task.system.id);
      return c.restore ? withProgress(task.resume, () => c.restore!(task)) : { restored: 0 };
    },
    async eraseSystem(raw) {
      const task = checked(raw);
      await refuseWhilePaused(task);
      const started = Date.now();
      const labels = { system: task.system.id, kind: task.system.kind };
      let result: EraseResult;
      try {
        const c = connectorFor(task.system.id);
        result = await withProgress(task.resume, () => c.erase(task));
      } catch (err) {
        const retryable = !(err instanceof ApplicationFailure && err.nonRetryable);
        deps.metrics?.systemErasureFailures.inc({ ...labels, retryable: String(retryable) });
        throw err;
      }
      deps.metrics?.systemErasureSeconds.observe(labels, (Date.now() - started) / 1000);
      deps.logger.info(
        { requestId: task.requestId, subjectRef: task.subjectRef, system: task.system.id, found: result.found, erased: result.erased, ms: Date.now() - started },
        'system erased',
      );
      // Recorded after the erase (erasure.system_erased for downstream); a failure retries the activity.
      const detail = { system: task.system.id, kind: task.system.kind, found: result.found, erased: result.erased, ...activityExecution() };
      await deps.audit.recordEvent({ requestId: task.requestId, type: auditEventTypes.systemErased, detail });
      // The verification count, on the connection the erase just used: the workflow then needs no verify
      // activity of its own. A count that fails is left to that activity, never fails the erase.
      const verified = await connectorFor(task.system.id)
        .verify(task)
        .catch((err: unknown) => {
          deps.logger.warn({ requestId: task.requestId, system: task.system.id, error: err instanceof Error ? err.name : typeof err }, 'verification after the erase failed; the verify step counts again');
          return undefined;
        });
      return verified ? { ...result, verified: { remaining: verified.remaining } } : result;
    },
    async verifySystem(raw) {
      const task = checked(raw);
      await refuseWhilePaused(task);
      return connectorFor(task.system.id).verify(task);
    },
    async notifySystem(raw) {
      // A kind this worker does not know (a plan from another engine version) must not pass for a manual one.
      if (!isSystemKind(raw.system?.kind)) {
        throw configurationError(`system "${raw.system?.id}" has kind "${raw.system?.kind}", which this worker does not know (expected ${systemKinds.join(', ')})`);
      }
      const task = checked(raw);
      // Kinds without a connector (manual) are erased by a person: the log line is the request.
      const c = hasConnector(task.system.kind) ? connectorFor(task.system.id) : undefined;
      if (c?.notify) await c.notify(task);
      else {
        deps.logger.info({ requestId: task.requestId, system: task.system.id, owner: task.system.spec.owner }, 'manual erasure requested');
        await deps.notifier.requestErasure?.({ requestId: task.requestId, subjectRef: task.subjectRef, systemId: task.system.id });
      }
    },
    async announceToConsumers(a) {
      await deps.notifier.announce(a);
    },
    async sendReminder(r) {
      await deps.notifier.remind(r);
    },
    async escalate(e) {
      await deps.notifier.escalate(e);
      await deps.audit.recordEvent({ requestId: e.requestId, type: escalationEventType(e.reason), detail: { systems: e.systemIds, consumers: e.consumerIds } });
    },
    async recordEvent(e) {
      await deps.audit.recordEvent(e);
    },
    async recordEvents(events) {
      if (deps.audit.recordEvents) await deps.audit.recordEvents(events);
      else for (const e of events) await deps.audit.recordEvent(e);
    },
    async issueCertificate(req) {
      return deps.certificates.issue(req);
    },
    async closeConnectors() {
      await Promise.all([...built.values()].map((c) => c.close?.()));
      built.clear();
    },
  };
}
