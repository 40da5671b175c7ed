/**
 * Builds the unsigned certificate from what the workflow hands over. The subject's identifiers, and those
 * systems derived for it, enter only the commitment; free text written by operators or systems (notes, references, reasons, signal details)
 * has any occurrence of them replaced by `[redacted]`, so a careless note cannot put them on record.
 */
import { attestedFields, identifierPairs, type ActionArrival, type ActionAttestation } from '../domain';
import type { CertificateRequest } from '../activities/types';
import type { RecordedAction } from '../attestation';
import { commitSubject, derivedPairs } from './commitment';
import { CERTIFICATE_FORMAT, type CertificateAction, type CertificateConsumer, type CertificateSystem, type SubjectCommitment, type UnsignedCertificate } from './schema';

/** The workflow handed over something a certificate cannot be built from; retrying will not help. */
export class CertificateRequestError extends Error {
  override readonly name = 'CertificateRequestError';
}

/** Where in the ledger the certificate goes and what stamps it; decided under the chain lock. */
export interface CertificatePlacement {
  certificateId: string;
  sequence: number;
  issuedAt: Date;
  previousCertificateHash: string | null;
  engineVersion: string;
  /** 32 bytes; random unless a test pins it. */
  salt?: Buffer;
  /**
   * The subject commitment, computed before the chain lock is taken (its scrypt is slow on purpose, and
   * nothing in it depends on the chain). Computed here, with `salt`, when absent.
   */
  commitment?: SubjectCommitment;
  /**
   * How each operator action, confirmation and consumer report arrived (the attestor's check); each gets an
   * `arrival` in the certificate. Without it (certificates built outside the worker) none is written.
   */
  arrival?: (attestation: ActionAttestation | undefined, action: RecordedAction) => ActionArrival;
}

export const REDACTED = '[redacted]';

function iso(value: string | number, field: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new CertificateRequestError(`${field} is not a valid time`);
  return d.toISOString();
}

/** Replaces every occurrence of the given values (case-insensitive) in strings, deeply. */
export function redactor(values: string[]): <T>(value: T) => T {
  const needles = [...new Set(values.filter((v) => v.length > 0))].sort((a, b) => b.length - a.length);
  if (needles.length === 0) return (v) => v;
  const pattern = new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gi');
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(pattern, REDACTED);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [walk(k) as string, walk(x)]));
    return v;
  };
  return walk as <T>(value: T) => T;
}

/** Drops keys whose value is undefined, so what is signed and what is stored are the same JSON. */
function defined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The certificate's content, ready to sign.
 * @example const unsigned = buildCertificate(req, { certificateId, sequence: 7, issuedAt: new Date(), previousCertificateHash, engineVersion });
 */
export function buildCertificate(req: CertificateRequest, at: CertificatePlacement): UnsignedCertificate {
  const pairs = identifierPairs(req.subject);
  if (pairs.length === 0) throw new CertificateRequestError('the subject has no identifiers to commit to');
  let derived: Array<[string, string]>;
  try {
    derived = derivedPairs(req.subject, req.derived);
  } catch (err) {
    throw new CertificateRequestError((err as Error).message);
  }
  // Also catch a phone number written without its leading "+".
  const redact = redactor([...pairs, ...derived].flatMap(([type, v]) => (type === 'phone' && v.startsWith('+') ? [v, v.slice(1)] : [v])));

  const arrival = (attestation: ActionAttestation | undefined, action: RecordedAction) => (at.arrival ? defined({ ...at.arrival(attestation, action) }) : undefined);
  const systems: CertificateSystem[] = req.receipts.map((r, i) =>
    defined({
      systemId: r.systemId,
      kind: r.kind,
      action: r.action,
      found: r.found,
      erased: r.erased,
      remaining: r.remaining,
      evidenceHash: r.evidenceHash,
      attempts: r.attempts,
      startedAt: iso(r.startedAt, `receipts[${i}].startedAt`),
      completedAt: iso(r.completedAt, `receipts[${i}].completedAt`),
      confirmedBy: redact(r.confirmedBy),
      arrival: r.action === 'confirmed' ? arrival(r.attestation, { requestId: req.requestId, signal: 'confirmDeletion', at: r.completedAt, target: { system: r.systemId } }) : undefined,
      reference: redact(r.reference),
      note: redact(r.note),
      details: r.details,
    }),
  );
  const consumers: CertificateConsumer[] = req.consumers.map((c, i) =>
    defined({
      consumerId: c.id,
      critical: c.critical,
      status: c.status,
      reportedAt: c.reportedAt === undefined ? undefined : iso(c.reportedAt, `consumers[${i}].reportedAt`),
      arrival:
        c.reportedAt === undefined
          ? undefined
          : arrival(c.attestation, { requestId: req.requestId, signal: 'consumerCompleted', at: c.reportedAt, target: { consumer: c.id, status: c.status } }),
      note: redact(c.note),
    }),
  );
  const operatorActions: CertificateAction[] = req.actions.map((a, i) =>
    defined({
      at: iso(a.at, `actions[${i}].at`),
      signal: a.signal,
      accepted: a.accepted,
      by: redact(a.by),
      arrival: arrival(a.attestation, { requestId: req.requestId, signal: a.signal, at: a.at, target: attestedFields(a.detail) }),
      reason: redact(a.reason),
      detail: a.detail === undefined ? undefined : redact(a.detail),
    }),
  );

  const certificate: UnsignedCertificate = {
    format: CERTIFICATE_FORMAT,
    certificateId: at.certificateId,
    sequence: at.sequence,
    issuedAt: at.issuedAt.toISOString(),
    engineVersion: at.engineVersion,
    request: {
      requestId: req.requestId,
      workflowId: req.workflowId,
      runId: req.runId,
      firstRunId: req.firstRunId,
      jurisdiction: req.jurisdiction,
      receivedAt: iso(req.receivedAt, 'receivedAt'),
      deadline: iso(req.deadline, 'deadline'),
      deadlineExtended: req.extended,
      completedAt: iso(req.completedAt, 'completedAt'),
    },
    subject: { commitment: at.commitment ?? commitSubject(req.subject, at.salt, req.derived) },
    systems,
    consumers,
    operatorActions,
    previousCertificateHash: at.previousCertificateHash,
  };
  // A JSON round trip makes the value plain JSON (no undefined, Dates or class instances in details), so
  // the bytes signed now are the bytes recomputed later from the stored copy.
  return JSON.parse(JSON.stringify(certificate)) as UnsignedCertificate;
}
