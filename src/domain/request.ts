/**
 * The state of one erasure request as its workflow keeps it, and the view the `status` query returns.
 * Everything here survives continue-as-new; times the workflow waits for are epoch ms.
 */
import type { Jurisdiction } from './jurisdiction';
import type { Receipt, SystemKind } from './plan';
import type { ConsumerStatus, ErasureStatus, Phase, SystemMode, SystemStatus } from './statuses';
import type { DerivedIdentifiers } from './subject';

export interface SystemState {
  id: string;
  kind: SystemKind;
  mode: SystemMode;
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
  /** A system that `provides` identifiers has been asked for them (`identifySystem`); set once. */
  identified?: boolean;
  receipt?: Receipt;
}

export interface ConsumerState {
  id: string;
  critical: boolean;
  status: ConsumerStatus;
  /** Epoch ms when waiting for this consumer times out. */
  timeoutAt?: number;
  note?: string;
  reportedAt?: string;
}

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
  /** The ledger was told of the extension (event `deadline.extended`), so its deadline follows. */
  extensionRecorded?: boolean;
  overdue: boolean;
  legalHold?: { reason: string; placedBy: string; since: string };
  cancelRequested?: { reason: string };
  systems: Record<string, SystemState>;
  consumers: Record<string, ConsumerState>;
  actions: OperatorAction[];
  certificateId?: string;
  runs: number;
  /**
   * Identifiers the providers found for names the request did not carry, per name, deduplicated. PII like
   * the request's own: kept only here and in encrypted payloads, never in the status view (counts only),
   * search attributes, events or messages.
   */
  derived?: DerivedIdentifiers;
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
  /** How many values were derived per identifier name (`{ userId: 2 }`); the values themselves stay out. */
  derived?: Record<string, number>;
}
