/**
 * The names of the audit events a request's trail holds, written once: the workflow records them, the
 * ledger reacts to some, and the certificate chain check reads one. Details never carry identifiers.
 */
import type { EscalationReason, Phase } from './statuses';

export const auditEventTypes = {
  /** The intake stored the request (written with its row). */
  received: 'received',
  /** The workflow started and fixed the deadline. */
  accepted: 'accepted',
  /** An accepted extension; the ledger moves the request's deadline to `detail.deadline`. */
  deadlineExtended: 'deadline.extended',
  /**
   * An automated system's erase succeeded (recorded by the eraseSystem activity): `detail` { system, kind,
   * found, erased, execution }, `execution` naming the activity run so that a retried activity records it once.
   */
  systemErased: 'system.erased',
  /** The certificate was stored (in the issuer's transaction). */
  certificateIssued: 'certificate.issued',
  /**
   * A batch of operator actions, `detail.actions` (OperatorActionEntry[]); the workflow's state keeps only
   * the latest, the trail keeps all (read with src/ledger/actions.ts).
   */
  operatorActions: 'operator.actions',
  /** The request's data key was destroyed after its workflow closed (crypto-shredding). */
  dataKeyDestroyed: 'data_key.destroyed',
  /**
   * The codec server decrypted payloads of the request for someone: `detail` { actor, via, payloads (a
   * count), namespace }, `anonymous: true` when the caller was known only by the path token. Never contents.
   */
  codecDecoded: 'codec.decoded',
} as const;

const PHASE_PREFIX = 'phase.';
const ESCALATION_PREFIX = 'escalated.';

/** The event recorded when a request enters `phase`; the ledger moves the request's status with it. */
export const phaseEventType = (phase: Phase): string => `${PHASE_PREFIX}${phase}`;

/** The phase a `phase.*` event names, unchecked (undefined for other events). */
export const phaseNamedBy = (type: string): string | undefined => (type.startsWith(PHASE_PREFIX) ? type.slice(PHASE_PREFIX.length) : undefined);

/** The event recorded when the workflow escalates. */
export const escalationEventType = (reason: EscalationReason): string => `${ESCALATION_PREFIX}${reason}`;
