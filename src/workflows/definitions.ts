/**
 * The erasure workflow's contract: its input, its signals and query, its search attributes, and the
 * payload schemas that the workflow, the API and the tests all validate with. Each name is written here once.
 *
 * This module is imported by workflow code, so it must stay free of I/O and Node built-ins.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { z } from 'zod';

/** Workflow type name and id prefix: one workflow per request, id `erasure-<requestId>`. */
export const ERASURE_WORKFLOW_PREFIX = 'erasure-';
export const workflowIdFor = (requestId: string): string => `${ERASURE_WORKFLOW_PREFIX}${requestId}`;

// ---------------------------------------------------------------------------------------------------
// Search attributes (register these on every server the engine runs against)
// ---------------------------------------------------------------------------------------------------

export const ErasureStatusKey = defineSearchAttributeKey('ErasureStatus', SearchAttributeType.KEYWORD);
export const ErasureDeadlineKey = defineSearchAttributeKey('ErasureDeadline', SearchAttributeType.DATETIME);
export const ErasurePendingSystemsKey = defineSearchAttributeKey('ErasurePendingSystems', SearchAttributeType.KEYWORD_LIST);
export const ErasureOverdueKey = defineSearchAttributeKey('ErasureOverdue', SearchAttributeType.BOOL);
export const ErasureJurisdictionKey = defineSearchAttributeKey('ErasureJurisdiction', SearchAttributeType.KEYWORD);

/** Every search attribute the engine writes, for server registration. */
export const erasureSearchAttributes = [
  ErasureStatusKey,
  ErasureDeadlineKey,
  ErasurePendingSystemsKey,
  ErasureOverdueKey,
  ErasureJurisdictionKey,
] as const;

// ---------------------------------------------------------------------------------------------------
// Subject, plan and policy
// ---------------------------------------------------------------------------------------------------

/** A subject's identifiers. Values are PII: they travel only inside encrypted payloads. */
export const subjectIdentifiersSchema = z
  .object({
    email: z.string().trim().toLowerCase().pipe(z.email()).optional(),
    userId: z.string().trim().min(1).max(256).optional(),
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9 ().-]{4,32}$/, 'must be a phone number')
      .transform((p) => p.replace(/[ ().-]/g, ''))
      .optional(),
    custom: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), z.string().trim().min(1).max(1024)).optional(),
  })
  .strict()
  .refine((s) => Boolean(s.email || s.userId || s.phone || (s.custom && Object.keys(s.custom).length > 0)), {
    message: 'at least one identifier is required: email, userId, phone or a custom key',
  });
export type SubjectIdentifiers = z.infer<typeof subjectIdentifiersSchema>;

/** Names of identifiers a catalog can match on: the built-in ones or `custom.<key>`. */
export type IdentifierName = 'email' | 'userId' | 'phone' | `custom.${string}`;

/** Looks up one identifier's value; `undefined` when the subject does not have it. */
export function identifierValue(subject: SubjectIdentifiers, name: string): string | undefined {
  if (name.startsWith('custom.')) return subject.custom?.[name.slice('custom.'.length)];
  if (name === 'email' || name === 'userId' || name === 'phone') return subject[name];
  return undefined;
}

export const jurisdictionSchema = z.enum(['GDPR', 'CCPA']);
export type Jurisdiction = z.infer<typeof jurisdictionSchema>;

/** What a jurisdiction demands; all durations in days so a policy reads like the law it encodes. */
export interface JurisdictionPolicy {
  jurisdiction: Jurisdiction;
  /** Days from receipt to the legal deadline (GDPR 30, CCPA 45). */
  deadlineDays: number;
  /** Most days one extension may add; 0 means no extension (GDPR Art. 12(3): 60). */
  maxExtensionDays: number;
  /** Days of grace before anything is erased (soft-delete first); 0 for none. */
  graceDays: number;
  /** Days between reminders to a system that must confirm by hand. */
  reminderEveryDays: number;
  /** Escalate unconfirmed systems this many days before the deadline. */
  escalateBeforeDays: number;
  /** Erase→verify rounds before a system that still holds data needs an operator. */
  maxVerifyRounds: number;
  /** Days past the deadline that activity retries keep going. */
  retryMarginDays: number;
}

export type SystemKind = 'postgres' | 's3' | 'elasticsearch' | 'webhook' | 'manual';

/**
 * One system as the request's plan sees it: a snapshot taken when the request was accepted, so an edit
 * to the catalog never changes a running erasure. `spec` is the catalog entry without secrets.
 */
export interface SystemPlan {
  id: string;
  kind: SystemKind;
  /** `automated`: an activity erases; `confirmation`: a person or a webhook's owner confirms by signal. */
  mode: 'automated' | 'confirmation';
  /** Whether the connector can soft-delete and restore during a grace period. */
  softDelete: boolean;
  /** Systems that must be erased before this one. */
  dependsOn: string[];
  /** Reminder interval override for this system, in days. */
  reminderEveryDays?: number;
  /** Webhook in signal mode: the activity notifies the system, then the workflow waits for confirmation. */
  notify?: boolean;
  /** The catalog entry (tables, bucket, prefixes, …), secrets left as `${VAR}` references. */
  spec: Record<string, unknown>;
}

export interface ConsumerPlan {
  id: string;
  critical: boolean;
  /** How long to wait for this consumer's completion signal, in days (fractions allowed). */
  timeoutDays: number;
}

export interface ErasurePlan {
  policy: JurisdictionPolicy;
  systems: SystemPlan[];
  consumers: ConsumerPlan[];
}

/** Input of {@link erasureWorkflow}. */
export interface ErasureInput {
  requestId: string;
  subject: SubjectIdentifiers;
  /** Salted hash of the subject, safe for logs and events. */
  subjectRef: string;
  /** ISO time the intake accepted the request; the deadline counts from here. */
  receivedAt: string;
  plan: ErasurePlan;
  source?: string;
  /** Test hook: continue-as-new once history exceeds this many events (the SDK's suggestion applies too). */
  continueAsNewAfterEvents?: number;
  /** Carried state when continuing as new; never set by callers. */
  carried?: ErasureState;
}

// ---------------------------------------------------------------------------------------------------
// Receipts and state
// ---------------------------------------------------------------------------------------------------

/** What one system's erasure produced. Never holds identifiers: evidence is hashed. */
export interface Receipt {
  systemId: string;
  kind: SystemKind;
  action: 'delete' | 'anonymize' | 'mixed' | 'confirmed' | 'webhook';
  found: number;
  erased: number;
  remaining: number;
  /** SHA-256 of the queries / prefixes used. */
  evidenceHash: string;
  attempts: number;
  startedAt: string;
  completedAt: string;
  confirmedBy?: string;
  reference?: string;
  note?: string;
  details?: Record<string, number>;
}

/** Result of an erase activity. */
export interface EraseResult {
  action: Receipt['action'];
  found: number;
  erased: number;
  evidenceHash: string;
  details?: Record<string, number>;
}

/** Result of a verify activity. */
export interface VerifyResult {
  remaining: number;
}

export type SystemStatus =
  | 'pending'
  | 'soft_deleted'
  | 'erasing'
  | 'awaiting_confirmation'
  | 'needs_attention'
  | 'erased'
  | 'verified';

export interface SystemState {
  id: string;
  kind: SystemKind;
  mode: SystemPlan['mode'];
  status: SystemStatus;
  attempts: number;
  verifyRounds: number;
  lastError?: string;
  /** Epoch ms of the next reminder while awaiting confirmation. */
  nextReminderAt?: number;
  remindersSent: number;
  escalated: boolean;
  notified: boolean;
  retryRequested: boolean;
  receipt?: Receipt;
}

export type ConsumerStatus = 'waiting' | 'ok' | 'failed' | 'skipped' | 'escalated';

export interface ConsumerState {
  id: string;
  critical: boolean;
  status: ConsumerStatus;
  /** Epoch ms when waiting for this consumer times out. */
  timeoutAt?: number;
  note?: string;
  reportedAt?: string;
}

export type Phase =
  | 'accepted'
  | 'grace_period'
  | 'coordinating'
  | 'erasing'
  | 'verifying'
  | 'certifying'
  | 'completed'
  | 'cancelled';

/** What ErasureStatus shows: the phase, or a side state that needs eyes on it. */
export type ErasureStatus = Phase | 'on_hold' | 'needs_attention' | 'overdue' | 'awaiting_confirmation';

export interface OperatorAction {
  at: string;
  signal: string;
  accepted: boolean;
  /** Why a signal was refused; never contains identifiers. */
  reason?: string;
  by?: string;
  detail?: Record<string, unknown>;
}

export interface ErasureState {
  requestId: string;
  jurisdiction: Jurisdiction;
  phase: Phase;
  receivedAt: string;
  /** Epoch ms of the legal deadline (moves on extension). */
  deadlineAt: number;
  graceEndsAt?: number;
  extended: boolean;
  overdue: boolean;
  legalHold?: { reason: string; placedBy: string; since: string };
  cancelRequested?: { reason: string };
  systems: Record<string, SystemState>;
  consumers: Record<string, ConsumerState>;
  actions: OperatorAction[];
  certificateId?: string;
  runs: number;
}

/** What the `status` query returns. */
export interface ErasureStatusView {
  requestId: string;
  status: ErasureStatus;
  phase: Phase;
  jurisdiction: Jurisdiction;
  receivedAt: string;
  deadline: string;
  overdue: boolean;
  extended: boolean;
  legalHold?: ErasureState['legalHold'];
  systems: Array<Omit<SystemState, 'nextReminderAt' | 'retryRequested'> & { nextReminderAt?: string }>;
  pendingConfirmations: string[];
  consumers: ConsumerState[];
  actions: OperatorAction[];
  certificateId?: string;
}

/** Result of a completed erasure workflow. */
export interface ErasureResult {
  status: 'completed' | 'cancelled';
  certificateId?: string;
  receipts: Receipt[];
}

// ---------------------------------------------------------------------------------------------------
// Signals and query. Payload schemas are shared with the API, which validates at the edge too.
// ---------------------------------------------------------------------------------------------------

const text = (max: number) => z.string().trim().min(1).max(max);

export const confirmDeletionSchema = z.object({
  system: text(128),
  confirmedBy: text(256),
  reference: text(512).optional(),
  note: text(2000).optional(),
});
export const consumerCompletedSchema = z.object({
  consumer: text(128),
  status: z.enum(['ok', 'failed']),
  note: text(2000).optional(),
});
export const placeLegalHoldSchema = z.object({ reason: text(2000), placedBy: text(256) });
export const releaseLegalHoldSchema = z.object({ releasedBy: text(256) });
export const extendDeadlineSchema = z.object({ days: z.number().int().positive().max(366), reason: text(2000) });
export const cancelSchema = z.object({ reason: text(2000) });
export const retrySystemSchema = z.object({ system: text(128) });

export type ConfirmDeletion = z.infer<typeof confirmDeletionSchema>;
export type ConsumerCompleted = z.infer<typeof consumerCompletedSchema>;
export type PlaceLegalHold = z.infer<typeof placeLegalHoldSchema>;
export type ReleaseLegalHold = z.infer<typeof releaseLegalHoldSchema>;
export type ExtendDeadline = z.infer<typeof extendDeadlineSchema>;
export type Cancel = z.infer<typeof cancelSchema>;
export type RetrySystem = z.infer<typeof retrySystemSchema>;

// Signal handlers take `unknown`: payloads arrive as raw JSON from the CLI and are validated in the workflow,
// so a malformed one is recorded as rejected instead of failing the workflow task.
export const confirmDeletionSignal = defineSignal<[unknown]>('confirmDeletion');
export const consumerCompletedSignal = defineSignal<[unknown]>('consumerCompleted');
export const placeLegalHoldSignal = defineSignal<[unknown]>('placeLegalHold');
export const releaseLegalHoldSignal = defineSignal<[unknown]>('releaseLegalHold');
export const extendDeadlineSignal = defineSignal<[unknown]>('extendDeadline');
export const cancelSignal = defineSignal<[unknown]>('cancel');
export const retrySystemSignal = defineSignal<[unknown]>('retrySystem');

/** Each signal with the schema of its payload, for the API's HTTP twins and the docs. */
export const signalSchemas = {
  confirmDeletion: confirmDeletionSchema,
  consumerCompleted: consumerCompletedSchema,
  placeLegalHold: placeLegalHoldSchema,
  releaseLegalHold: releaseLegalHoldSchema,
  extendDeadline: extendDeadlineSchema,
  cancel: cancelSchema,
  retrySystem: retrySystemSchema,
} as const;
export type SignalName = keyof typeof signalSchemas;

export const statusQuery = defineQuery<ErasureStatusView>('status');

/** What an operator action produced: accepted, or refused with the reason (the state forbids it). */
export interface OperatorActionResult {
  accepted: boolean;
  reason?: string;
}

/**
 * The API's twin of the signals: the same rules, but the caller learns at once whether the action was
 * accepted (HTTP 2xx) or refused (HTTP 409). `signal` names one of {@link signalSchemas}.
 */
export const operatorActionUpdate = defineUpdate<OperatorActionResult, [{ signal: SignalName; payload: unknown }]>('operatorAction');
