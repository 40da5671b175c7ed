/** Jurisdiction policies: what each law demands of an erasure, in days. */
import type { Jurisdiction, JurisdictionPolicy } from './workflows/definitions';

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
