/**
 * Jurisdictions and what each law demands of an erasure, and the one place the legal deadline is
 * computed. All durations are in days so a policy reads like the law it encodes.
 */
import { z } from 'zod';

export const DAY_MS = 86_400_000;

export const jurisdictions = ['GDPR', 'CCPA'] as const;
export const jurisdictionSchema = z.enum(jurisdictions);
export type Jurisdiction = z.infer<typeof jurisdictionSchema>;

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

/** Defaults per jurisdiction. GDPR Art. 12(3): one month, extendable once by two more; CCPA: 45 days. */
export const defaultPolicies: Record<Jurisdiction, JurisdictionPolicy> = {
  GDPR: {
    jurisdiction: 'GDPR',
    deadlineDays: 30,
    maxExtensionDays: 60,
    graceDays: 0,
    reminderEveryDays: 3,
    escalateBeforeDays: 5,
    maxVerifyRounds: 3,
    retryMarginDays: 7,
  },
  CCPA: {
    jurisdiction: 'CCPA',
    deadlineDays: 45,
    maxExtensionDays: 45,
    graceDays: 0,
    reminderEveryDays: 3,
    escalateBeforeDays: 7,
    maxVerifyRounds: 3,
    retryMarginDays: 7,
  },
};

/**
 * The legal deadline of a request received at `receivedAtMs` (epoch ms), before any extension.
 * @example new Date(deadlineFor(Date.parse(receivedAt), defaultPolicies.GDPR))
 */
export function deadlineFor(receivedAtMs: number, policy: Pick<JurisdictionPolicy, 'deadlineDays'>): number {
  return receivedAtMs + policy.deadlineDays * DAY_MS;
}
