/**
 * The lifecycle events downstream services read on the events topic, and the one mapping from the audit
 * trail to them. Pure: the ledger (src/ledger/audit.ts, src/certificate/issuer.ts) calls it inside the
 * transaction that records the audit event and queues what it returns in the outbox, so an event is
 * published if and only if the state change it reports committed.
 *
 * Event ids are stable across retries, `<requestId>:<type>[:<part>]`, so a retried activity queues the
 * same message again (the outbox keeps one) and a consumer can drop a repeat it has seen. Messages never
 * carry identifiers: the subject appears only as its keyed `subjectRef`.
 */
import { z } from 'zod';
import type { AuditEvent } from '../activities/types';
import { auditEventTypes, escalationEventType, phaseEventType } from '../domain';
import type { OutboxMessage } from './outbox';

/** The events topic when `KAFKA_EVENTS_TOPIC` is not set. */
export const DEFAULT_EVENTS_TOPIC = 'erasure.events';

/** The lifecycle event types, written once. */
export const lifecycleEventTypes = {
  accepted: 'erasure.accepted',
  systemErased: 'erasure.system_erased',
  completed: 'erasure.completed',
  overdue: 'erasure.overdue',
  needsAttention: 'erasure.needs_attention',
  cancelled: 'erasure.cancelled',
} as const;
export type LifecycleEventType = (typeof lifecycleEventTypes)[keyof typeof lifecycleEventTypes];

const iso = z.iso.datetime({ offset: true });
const envelope = <T extends string>(type: T) =>
  z.object({
    type: z.literal(type),
    eventId: z.string().describe('Stable id of this event: a repeat (at-least-once delivery) has the same one; deduplicate on it'),
    requestId: z.string().describe('The erasure request; also the message key, so one request stays on one partition, in order'),
    occurredAt: iso.describe('When the engine recorded the change'),
    subjectRef: z.string().optional().describe('Keyed hash of the subject (never an identifier); absent for a workflow the ledger never received'),
  });

/** Each lifecycle message's JSON shape (the AsyncAPI document is generated from these). */
export const lifecycleSchemas = {
  [lifecycleEventTypes.accepted]: envelope(lifecycleEventTypes.accepted).extend({
    deadline: iso.describe('The legal deadline'),
    jurisdiction: z.string().optional().describe('GDPR or CCPA'),
  }),
  [lifecycleEventTypes.systemErased]: envelope(lifecycleEventTypes.systemErased).extend({
    systemId: z.string().describe('Catalog id of the system'),
    kind: z.string().describe('Kind of the system (postgres, mongodb, s3, …)'),
    found: z.number().int().nonnegative().describe('Records of the subject found'),
    erased: z.number().int().nonnegative().describe('Records erased or anonymised'),
    round: z.number().int().positive().describe('1 for the first erase of this system; a later verify round that had to erase again counts up'),
  }),
  [lifecycleEventTypes.completed]: envelope(lifecycleEventTypes.completed).extend({
    certificateId: z.string(),
    certificateHash: z.string().describe('The certificate\'s chain hash (as `GET /erasures/{id}/certificate` can be checked against)'),
    sequence: z.number().int().positive().describe('The certificate\'s position in the chain'),
    completedAt: iso,
  }),
  [lifecycleEventTypes.overdue]: envelope(lifecycleEventTypes.overdue).extend({
    deadline: iso.optional().describe('The deadline that passed'),
    systemIds: z.array(z.string()).describe('Systems not erased yet'),
    consumerIds: z.array(z.string()).optional(),
  }),
  [lifecycleEventTypes.needsAttention]: envelope(lifecycleEventTypes.needsAttention).extend({
    systemIds: z.array(z.string()).describe('Systems an operator must look at'),
  }),
  [lifecycleEventTypes.cancelled]: envelope(lifecycleEventTypes.cancelled),
} as const;

/** What the ledger knows of the request when it records an event (no identifiers). */
export interface RequestFacts {
  subjectRef: string;
  jurisdiction: string;
  /** ISO time of the current deadline. */
  deadline: string;
}

export interface MappingContext {
  /** The events topic (`KAFKA_EVENTS_TOPIC`). */
  topic: string;
  /** ISO time the change is recorded. */
  occurredAt: string;
  request?: RequestFacts;
  /**
   * For an event that can happen more than once per request and system (see {@link repeatScope}): 1 for
   * the first of its scope, n for the n-th. The first keeps the plain id; later ones get `:<n>`.
   */
  occurrence?: number;
}

/**
 * The id of a lifecycle event: `<requestId>:<type>[:<part>…]`.
 * @example lifecycleEventId('req-1', 'erasure.system_erased', 'orders-db') // 'req-1:erasure.system_erased:orders-db'
 */
export function lifecycleEventId(requestId: string, type: LifecycleEventType, ...parts: Array<string | number>): string {
  return [requestId, type, ...parts].join(':');
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

/**
 * The part of an audit event's detail that tells one occurrence's scope from another's, for events that
 * repeat (a system erased again in a later verify round, a system needing attention again after a retry):
 * the ledger counts the earlier events of the same type whose detail contains it. Undefined for events that
 * happen at most once per request (or, like overdue, once per deadline).
 */
export function repeatScope(e: AuditEvent): Record<string, unknown> | undefined {
  if (e.type === auditEventTypes.systemErased) return { system: e.detail?.system };
  if (e.type === escalationEventType('needs_attention')) return { systems: strings(e.detail?.systems) };
  return undefined;
}

function message(topic: string, value: { type: LifecycleEventType; eventId: string; requestId: string } & Record<string, unknown>): OutboxMessage {
  return { eventId: value.eventId, topic, key: value.requestId, value };
}

/**
 * The lifecycle event an audit event reports, or undefined for the audit events downstream does not see
 * (phases in between, operator actions, key destruction, codec decodes). `certificate.issued` is not mapped
 * here: the issuer builds `erasure.completed` with {@link completedMessage}, from the certificate itself.
 * @example const m = lifecycleMessageFor({ requestId, type: 'accepted', detail: { deadline } }, { topic, occurredAt, request });
 */
export function lifecycleMessageFor(e: AuditEvent, ctx: MappingContext): OutboxMessage | undefined {
  const { requestId } = e;
  const base = { requestId, occurredAt: ctx.occurredAt, ...(ctx.request ? { subjectRef: ctx.request.subjectRef } : {}) };
  const nth = ctx.occurrence !== undefined && ctx.occurrence > 1 ? [ctx.occurrence] : [];
  switch (e.type) {
    case auditEventTypes.accepted: {
      const type = lifecycleEventTypes.accepted;
      const deadline = typeof e.detail?.deadline === 'string' ? e.detail.deadline : ctx.request?.deadline;
      return message(ctx.topic, { type, eventId: lifecycleEventId(requestId, type), ...base, deadline, ...(ctx.request ? { jurisdiction: ctx.request.jurisdiction } : {}) });
    }
    case auditEventTypes.systemErased: {
      const type = lifecycleEventTypes.systemErased;
      const systemId = String(e.detail?.system ?? 'unknown');
      return message(ctx.topic, {
        type,
        eventId: lifecycleEventId(requestId, type, systemId, ...nth),
        ...base,
        systemId,
        kind: String(e.detail?.kind ?? 'unknown'),
        found: count(e.detail?.found),
        erased: count(e.detail?.erased),
        round: ctx.occurrence ?? 1,
      });
    }
    case escalationEventType('overdue'): {
      const type = lifecycleEventTypes.overdue;
      // Overdue happens once per deadline: an extension gives a new deadline, which may pass again.
      const deadline = ctx.request?.deadline;
      return message(ctx.topic, {
        type,
        eventId: lifecycleEventId(requestId, type, ...(deadline ? [deadline] : [])),
        ...base,
        ...(deadline ? { deadline } : {}),
        systemIds: strings(e.detail?.systems),
        consumerIds: strings(e.detail?.consumers),
      });
    }
    case escalationEventType('needs_attention'): {
      const type = lifecycleEventTypes.needsAttention;
      const systemIds = strings(e.detail?.systems);
      return message(ctx.topic, { type, eventId: lifecycleEventId(requestId, type, systemIds.join(','), ...nth), ...base, systemIds });
    }
    case phaseEventType('cancelled'): {
      const type = lifecycleEventTypes.cancelled;
      return message(ctx.topic, { type, eventId: lifecycleEventId(requestId, type), ...base });
    }
    default:
      return undefined;
  }
}

/** What the issuer knows when it has stored a certificate. */
export interface IssuedCertificate {
  requestId: string;
  certificateId: string;
  /** The chain hash stored with the certificate (src/certificate/sign.ts `certificateHash`). */
  hash: string;
  sequence: number;
  completedAt: string;
  subjectRef: string;
}

/**
 * `erasure.completed` for a certificate just stored; the issuer queues it in the certificate's transaction.
 * @example await enqueue(c, [completedMessage(issued, { topic, occurredAt: issuedAt })]);
 */
export function completedMessage(cert: IssuedCertificate, ctx: { topic: string; occurredAt: string }): OutboxMessage {
  const type = lifecycleEventTypes.completed;
  return message(ctx.topic, {
    type,
    eventId: lifecycleEventId(cert.requestId, type),
    requestId: cert.requestId,
    occurredAt: ctx.occurredAt,
    subjectRef: cert.subjectRef,
    certificateId: cert.certificateId,
    certificateHash: cert.hash,
    sequence: cert.sequence,
    completedAt: cert.completedAt,
  });
}
