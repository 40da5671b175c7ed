/**
 * The state of one erasure request as its workflow keeps it, and the view the `status` query returns.
 * Everything here survives continue-as-new; times the workflow waits for are epoch ms.
 */
import type { Jurisdiction } from './jurisdiction';
import type { ActionAttestation, ActionChannel } from './operator-actions';
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
  /**
   * The last progress of an erase, soft delete or restore a legal hold stopped, handed to the activity that
   * continues after the release. The connector's own format (it may name objects): never in the status view.
   */
  resume?: unknown;
  /** The latest time a legal hold stopped work on this system in flight, and what it had done by then. */
  interrupted?: { at: string; step: 'erase' | 'softDelete' | 'restore'; completed: Record<string, number> };
  /** Since when (ISO) this system's lane waits because the system is paused for every request. */
  paused?: { since: string };
  /** What the last erase counted as left right after it (lean runs); the verify step applies it instead of an activity. */
  verifiedAfterErase?: number;
}

export interface ConsumerState {
  id: string;
  critical: boolean;
  status: ConsumerStatus;
  /** Epoch ms when waiting for this consumer times out. */
  timeoutAt?: number;
  note?: string;
  reportedAt?: string;
  /** The API's claim about who reported, as it came (checked by the certificate issuer). */
  attestation?: ActionAttestation;
}

export interface OperatorAction {
  at: string;
  signal: string;
  accepted: boolean;
  /** Why a signal was refused; never contains identifiers. */
  reason?: string;
  by?: string;
  detail?: Record<string, unknown>;
  /** Position in the request's full list of operator actions (1-based, across runs); the ledger's key for it. */
  seq?: number;
  /** The API's claim about who sent the action, as it came; absent for a signal sent straight to Temporal. */
  attestation?: ActionAttestation;
}

/** How many actions of one signal were folded out of the state's list (they stay in the ledger). */
export interface FoldedActionCount {
  accepted: number;
  refused: number;
}

/**
 * One operator action as the ledger records it (audit event `operator.actions`): what was done, by whom,
 * and the engine's refusal reason, but none of the operator's free text (hold, cancel or extension reasons,
 * notes, references), which stays in the encrypted workflow state and the certificate.
 */
export interface OperatorActionEntry {
  /** The action's {@link OperatorAction.seq}: readers deduplicate on it (a batch may be written twice). */
  n: number;
  at: string;
  signal: string;
  accepted: boolean;
  by?: string;
  reason?: string;
  system?: string;
  consumer?: string;
  status?: string;
  days?: number;
  /** The action's claim as it came; the ledger writer replaces it with `via` and, when it verifies, `actor`. */
  attestation?: ActionAttestation;
  via?: ActionChannel;
  actor?: string;
  claimRejected?: true;
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
  /** The latest operator actions, at most `KEPT_ACTIONS` (src/workflows/action-log.ts); older ones are in `actionsFolded`. */
  actions: OperatorAction[];
  /** Per signal, the actions dropped from `actions` to keep the state (and continue-as-new) small. */
  actionsFolded?: Record<string, FoldedActionCount>;
  /** How many operator actions were ever recorded (the last `seq`); absent in states from before the bound. */
  actionsSeen?: number;
  /** Ledger entries not yet written to the audit trail (written in batches by a local activity). */
  actionsUnrecorded?: OperatorActionEntry[];
  /** Entries given up because the audit trail stayed unreachable while more than the bound waited. */
  actionsUnrecordedDropped?: number;
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
  /** Per signal, how many earlier actions no longer appear in `actions` (the ledger holds every one). */
  earlierActions?: Record<string, FoldedActionCount>;
  certificateId?: string;
  /** How many values were derived per identifier name (`{ userId: 2 }`); the values themselves stay out. */
  derived?: Record<string, number>;
}
