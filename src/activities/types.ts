/**
 * The activities the erasure workflow calls. The workflow imports this file with `import type` only;
 * `createActivities` (./index.ts) builds the implementations from injected clients.
 */
import type {
  EscalationReason,
  ConsumerState,
  DerivedIdentifiers,
  EraseResult,
  Jurisdiction,
  OperatorAction,
  Receipt,
  SubjectIdentifiers,
  SystemTask,
  VerifyResult,
} from '../domain';

// SystemTask lives in the domain, where the connectors (src/systems) import it from; kept here for the workflow.
export type { EscalationReason, SystemTask };

export interface Escalation {
  requestId: string;
  reason: EscalationReason;
  /** ISO time of the deadline when escalated. */
  deadline: string;
  systemIds?: string[];
  consumerIds?: string[];
  /** A message without identifiers. */
  message?: string;
}

export interface Reminder {
  requestId: string;
  systemId: string;
  owner?: string;
  remindersSent: number;
  deadline: string;
}

export interface ConsumerAnnouncement {
  requestId: string;
  subjectRef: string;
  consumers: string[];
  deadline: string;
  /**
   * The subject's identifiers, for consumers whose catalog entry asks for some (each gets only those, on its
   * own topic or webhook). PII: travels only in encrypted payloads. Absent from workflows that do not pass it
   * (those consumers then get the shared announcement only).
   */
  subject?: SubjectIdentifiers;
}

export interface AuditEvent {
  requestId: string;
  type: string;
  detail?: Record<string, unknown>;
}

/** Everything the certificate is built from. */
export interface CertificateRequest {
  requestId: string;
  workflowId: string;
  runId: string;
  firstRunId: string;
  subject: SubjectIdentifiers;
  /** Identifiers systems found for the subject (`provides`); committed to in the certificate, marked derived. PII. */
  derived?: DerivedIdentifiers;
  jurisdiction: Jurisdiction;
  receivedAt: string;
  deadline: string;
  extended: boolean;
  completedAt: string;
  receipts: Receipt[];
  consumers: ConsumerState[];
  actions: OperatorAction[];
  /**
   * Audit events the workflow has not written yet, written in the certificate's transaction: `before` ahead
   * of `certificate.issued` (the phases that led here), `after` behind it (`phase.completed`). A certificate
   * issued before (a retried activity) writes none again.
   */
  events?: { before?: AuditEvent[]; after?: AuditEvent[] };
}

export interface ErasureActivities {
  /**
   * Asks a system that `provides` identifiers for their values (the customer row found by e-mail gives the
   * `userId`), changing nothing. Only names the plan lists, normalised; the values are PII and travel only in
   * encrypted payloads.
   */
  identifySystem(task: SystemTask): Promise<DerivedIdentifiers>;
  /** Marks the subject's data deleted where the system supports it (grace period). Idempotent. */
  softDeleteSystem(task: SystemTask): Promise<{ affected: number }>;
  /** Undoes {@link softDeleteSystem} when the request is cancelled. Idempotent. */
  restoreSystem(task: SystemTask): Promise<{ restored: number }>;
  /** Erases the subject from one automated system. Idempotent: a second run finds nothing and succeeds. */
  eraseSystem(task: SystemTask): Promise<EraseResult>;
  /** Counts what is left of the subject in one automated system. */
  verifySystem(task: SystemTask): Promise<VerifyResult>;
  /** Asks a confirmation-mode system (webhook in signal mode, manual owner) to erase. */
  notifySystem(task: SystemTask): Promise<void>;
  announceToConsumers(announcement: ConsumerAnnouncement): Promise<void>;
  sendReminder(reminder: Reminder): Promise<void>;
  escalate(escalation: Escalation): Promise<void>;
  /** Appends to the request's audit trail in the engine's ledger. */
  recordEvent(event: AuditEvent): Promise<void>;
  /** Appends several events to audit trails in one transaction, in order. */
  recordEvents(events: AuditEvent[]): Promise<void>;
  /** Builds, signs and stores the certificate; returns its id. Idempotent per request. */
  issueCertificate(request: CertificateRequest): Promise<{ certificateId: string }>;
}
