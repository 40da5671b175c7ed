/**
 * The erasure workflow's contract with its clients: workflow id, input and result, signals, query and
 * update, and search attributes. Each name is written here once; payload schemas live in the domain.
 *
 * This module is imported by workflow code, so it must stay free of I/O and Node built-ins.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type {
  ActorClaim,
  Cancel,
  ConfirmDeletion,
  ConsumerCompleted,
  ErasurePlan,
  ErasureState,
  ErasureStatusView,
  ExtendDeadline,
  FinalPhase,
  OperatorActionName,
  OperatorActionResult,
  PlaceLegalHold,
  Receipt,
  ReleaseLegalHold,
  RetrySystem,
  SubjectIdentifiers,
} from '../domain';

/** Workflow id: one workflow per request, `erasure-<requestId>` (defined in the domain, src/domain/ids.ts). */
export { ERASURE_WORKFLOW_PREFIX, workflowIdFor, requestIdOf } from '../domain';
/** The workflow type name, as visibility queries spell it. */
export const ERASURE_WORKFLOW_TYPE = 'erasureWorkflow';

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
// Input and result
// ---------------------------------------------------------------------------------------------------

/** Input of the erasure workflow. */
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

/** Result of a completed erasure workflow. */
export interface ErasureResult {
  status: FinalPhase;
  certificateId?: string;
  receipts: Receipt[];
}

// ---------------------------------------------------------------------------------------------------
// Signals, query and update. Payloads are typed for senders; the workflow still validates each one,
// because CLIs send raw JSON, and records a malformed one as rejected instead of failing.
// ---------------------------------------------------------------------------------------------------

export const confirmDeletionSignal = defineSignal<[ConfirmDeletion]>('confirmDeletion');
export const consumerCompletedSignal = defineSignal<[ConsumerCompleted]>('consumerCompleted');
export const placeLegalHoldSignal = defineSignal<[PlaceLegalHold]>('placeLegalHold');
export const releaseLegalHoldSignal = defineSignal<[ReleaseLegalHold]>('releaseLegalHold');
export const extendDeadlineSignal = defineSignal<[ExtendDeadline]>('extendDeadline');
export const cancelSignal = defineSignal<[Cancel]>('cancel');
export const retrySystemSignal = defineSignal<[RetrySystem]>('retrySystem');

/**
 * The engine tells running workflows that a system was paused or resumed for every request. A wake-up call,
 * not an authority: the erase and verify activities read the pause from the ledger themselves, so a forged
 * signal can only make a lane look again (see src/use-cases/pause.ts).
 */
export interface SystemPauseNotice {
  system: string;
  paused: boolean;
}
export const systemPauseSignal = defineSignal<[SystemPauseNotice]>('systemPause');

export const statusQuery = defineQuery<ErasureStatusView>('status');

/**
 * The API's twin of the signals: the same rules, but the caller learns at once whether the action was
 * accepted (HTTP 2xx) or refused (HTTP 409). `signal` names one of the operator actions; `actor` is the
 * API's sealed claim about the authenticated key that sent it (src/attestation), kept as it came.
 */
export const operatorActionUpdate = defineUpdate<OperatorActionResult, [{ signal: OperatorActionName; payload: unknown; actor?: ActorClaim }]>('operatorAction');
