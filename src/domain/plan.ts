/**
 * A request's plan, frozen when it is accepted, and what erasing one system produces. The plan names
 * systems and what to expect of them; how to reach each system stays in the worker's catalog.
 */
import type { ActionAttestation } from './operator-actions';
import type { SystemKind } from '../systems/registry';
import type { JurisdictionPolicy } from './jurisdiction';
import type { ReceiptAction, SystemMode } from './statuses';
import type { DerivedIdentifiers, SubjectIdentifiers } from './subject';

export type { SystemKind };

/**
 * One system as the request's plan sees it: a snapshot taken when the request was accepted, so an edit
 * to the catalog never changes a running erasure. `spec` holds the fields of the catalog entry that the
 * kind's `planFields` allows (src/systems/<kind>/index.ts); everything else stays in the worker.
 */
export interface SystemPlan {
  id: string;
  kind: SystemKind;
  mode: SystemMode;
  /** Whether the connector can soft-delete and restore during a grace period. */
  softDelete: boolean;
  /** Systems that must be erased before this one. */
  dependsOn: string[];
  /** Reminder interval override for this system, in days. */
  reminderEveryDays?: number;
  /** Webhook in signal mode: the activity notifies the system, then the workflow waits for confirmation. */
  notify?: boolean;
  /**
   * Identifier names this system can find for the subject (`provides` in the catalog) when the request did
   * not carry them; the workflow asks it (`identifySystem`) before anything is erased.
   */
  provides?: string[];
  /** The catalog entry's fields that the kind's `planFields` allows (tables, bucket, prefixes, …), nothing else. */
  spec: Record<string, unknown>;
}

/**
 * One system's share of one request, as the erase, verify and notify activities receive it. `subject` is
 * PII and travels only in encrypted payloads.
 */
export interface SystemTask {
  requestId: string;
  subject: SubjectIdentifiers;
  subjectRef: string;
  system: SystemPlan;
  /** Identifiers other systems found (`provides`), for names the request did not carry. PII, like `subject`. */
  derived?: DerivedIdentifiers;
  /**
   * The last progress of the same operation's activity that a legal hold stopped, for the connector to resume
   * from (its own heartbeat format; may name objects, so it travels only in encrypted payloads).
   */
  resume?: unknown;
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

/** What one system's erasure produced. Never holds identifiers: evidence is hashed. */
export interface Receipt {
  systemId: string;
  kind: SystemKind;
  action: ReceiptAction;
  found: number;
  erased: number;
  remaining: number;
  /** SHA-256 of the queries / prefixes used. */
  evidenceHash: string;
  attempts: number;
  startedAt: string;
  completedAt: string;
  confirmedBy?: string;
  /** For a confirmation sent through the API: its claim about who confirmed (checked by the issuer). */
  attestation?: ActionAttestation;
  reference?: string;
  note?: string;
  details?: Record<string, number>;
}

/** Result of an erase activity. */
export interface EraseResult {
  action: ReceiptAction;
  found: number;
  erased: number;
  evidenceHash: string;
  details?: Record<string, number>;
  /**
   * What was left right after the erase, counted by the same activity on the same connection; the workflow
   * then verifies without an activity of its own. Absent when that count failed (the verify step counts).
   */
  verified?: VerifyResult;
}

/** Result of a verify activity. */
export interface VerifyResult {
  remaining: number;
}

/**
 * What erasing one part of a system would do (a table, a prefix, an index), as a preview reports it: counts
 * only, never a value.
 */
export interface PreviewEntry {
  /** What is looked at: `schema.table`, `bucket/prefix`, an index name. */
  target: string;
  /** Rows, objects or documents that would be deleted. */
  delete: number;
  /** Rows that would be anonymized (kept, their columns masked). */
  anonymize: number;
  /** Found, but kept: others still refer to it or hold it with the subject (`shared` in the receipt). */
  shared: number;
}

/** What erasing one system would do, changing nothing. */
export interface SystemPreview {
  entries: PreviewEntry[];
  /** How many values this system would provide per derived identifier name (the values themselves stay out). */
  derived?: Record<string, number>;
  /** Why nothing can be counted (a webhook or a person erases it). */
  note?: string;
}
