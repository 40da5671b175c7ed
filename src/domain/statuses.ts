/**
 * Every list of states an erasure request, a system or a consumer can be in, written once. The types
 * derive from the lists, and the API's schemas, the catalog and the docs import the lists.
 */

/**
 * Whether `value` is one of `list`: the one membership check for every closed list of the model.
 * @example if (isOneOf(phases, name)) recordPhase(name);
 */
export const isOneOf = <T extends string>(list: readonly T[], value: unknown): value is T => (list as readonly unknown[]).includes(value);

/** Steps of the workflow, in order, plus the two ends. */
export const phases = ['accepted', 'grace_period', 'coordinating', 'erasing', 'verifying', 'certifying', 'completed', 'cancelled'] as const;
export type Phase = (typeof phases)[number];

/**
 * Side states that need eyes on them, most urgent first; they win over the phase in ErasureStatus. `paused`: a
 * system the request waits for is paused for every request (maintenance, a broken connector), see
 * src/use-cases/pause.ts; a system needing an operator, or a deadline passed, still shows first.
 */
export const sideStates = ['on_hold', 'needs_attention', 'overdue', 'paused', 'awaiting_confirmation'] as const;

/** What ErasureStatus shows: the phase, or a side state. */
export const erasureStatuses = [...phases, ...sideStates] as const;
export type ErasureStatus = (typeof erasureStatuses)[number];

/** A request's status as the ledger records it: `queued` until its workflow starts, then its phase. */
export const ledgerStatuses = ['queued', ...phases] as const;
export type LedgerStatus = (typeof ledgerStatuses)[number];

/** Phases after which nothing more happens to a request. */
export const finalPhases = ['completed', 'cancelled'] as const satisfies readonly Phase[];
export type FinalPhase = (typeof finalPhases)[number];

export const systemStatuses = ['pending', 'soft_deleted', 'erasing', 'awaiting_confirmation', 'needs_attention', 'erased', 'verified'] as const;
export type SystemStatus = (typeof systemStatuses)[number];

/** `automated`: an activity erases; `confirmation`: a person or a webhook's owner confirms by signal. */
export const systemModes = ['automated', 'confirmation'] as const;
export type SystemMode = (typeof systemModes)[number];

export const consumerStatuses = ['waiting', 'ok', 'failed', 'skipped', 'escalated'] as const;
export type ConsumerStatus = (typeof consumerStatuses)[number];

/** What a consumer reports when it has finished with the data. */
export const consumerOutcomes = ['ok', 'failed'] as const satisfies readonly ConsumerStatus[];

export const escalationReasons = ['overdue', 'confirmation_due', 'critical_consumer_timeout', 'needs_attention'] as const;
export type EscalationReason = (typeof escalationReasons)[number];

export const receiptActions = ['delete', 'anonymize', 'mixed', 'confirmed', 'webhook'] as const;
export type ReceiptAction = (typeof receiptActions)[number];
