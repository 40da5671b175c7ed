/**
 * The erasure certificate's format (version 1), as a schema: certificates read from files or the API are
 * validated with it before anything else is trusted. Objects are strict, so an unexpected field is a
 * format error with a clear path rather than a confusing signature failure.
 */
import { z } from 'zod';
import { actionChannels, formatIssues, identifierNamePattern } from '../domain';

export const CERTIFICATE_FORMAT = 'erasure-certificate/v1';

const isoTime = z.iso.datetime();
const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be base64url without padding');
const text = z.string().min(1);
const count = z.number().int().min(0);

/**
 * The cost of a `scrypt` commitment, as Node's `crypto.scrypt` takes it: `N` (a power of two) and `r` set
 * the memory (128 · N · r bytes) and time of one digest; `p` multiplies the time. Bounded so a certificate
 * can never make a verifier spend unbounded memory.
 */
export const scryptCostSchema = z.strictObject({
  N: z.number().int().min(2 ** 14).max(2 ** 20).refine((n) => (n & (n - 1)) === 0, 'must be a power of two'),
  r: z.number().int().min(1).max(16),
  p: z.number().int().min(1).max(4),
});

export const subjectCommitmentSchema = z.strictObject({
  /**
   * `scrypt` (certificates issued now): each digest is scrypt(type ‖ 0x00 ‖ value, salt, 32 bytes, `cost`), so
   * testing one guess costs what `cost` says. Guessing a phone number or a numeric user id takes months, not
   * minutes. `sha-256` (older certificates): SHA-256(salt ‖ type ‖ 0x00 ‖ value); they still verify.
   */
  algorithm: z.enum(['sha-256', 'scrypt']),
  /** Required with `scrypt`, absent with `sha-256`. */
  cost: scryptCostSchema.optional(),
  /** 32 random bytes, base64url; new for every certificate, so commitments cannot be linked. */
  salt: base64url.length(43),
  /**
   * One digest per identifier the erasure used, in the engine's fixed identifier order: the request's own,
   * then those systems found for it (`provides`), each marked `derived: true`. Certificates issued before
   * derived identifiers existed simply have no mark.
   */
  identifiers: z
    .array(z.strictObject({ type: z.string().regex(identifierNamePattern), digest: hex64, derived: z.literal(true).optional() }))
    .min(1),
}).refine((c) => (c.algorithm === 'scrypt') === (c.cost !== undefined), { message: 'cost goes with algorithm scrypt, and only with it', path: ['cost'] });

/**
 * How an operator action reached the workflow: `api` by the authenticated API key `actor`, or `temporal`
 * (a signal sent straight to Temporal: unauthenticated; `claimRejected` when it carried a claim that did
 * not verify). `batch` names the bulk action (its batch id) an `api` action was sent in; certificates issued
 * before bulk actions existed have none. Certificates issued before this existed have no arrival at all.
 */
export const certificateArrivalSchema = z.strictObject({
  via: z.enum(actionChannels),
  actor: z.string().optional(),
  claimRejected: z.literal(true).optional(),
  batch: z.string().optional(),
});

export const certificateSystemSchema = z.strictObject({
  systemId: text,
  kind: text,
  action: text,
  found: count,
  erased: count,
  remaining: count,
  evidenceHash: z.string(),
  attempts: count,
  startedAt: isoTime,
  completedAt: isoTime,
  confirmedBy: z.string().optional(),
  arrival: certificateArrivalSchema.optional(),
  reference: z.string().optional(),
  note: z.string().optional(),
  details: z.record(z.string(), z.number()).optional(),
});

export const certificateConsumerSchema = z.strictObject({
  consumerId: text,
  critical: z.boolean(),
  status: text,
  reportedAt: isoTime.optional(),
  arrival: certificateArrivalSchema.optional(),
  note: z.string().optional(),
});

export const certificateActionSchema = z.strictObject({
  at: isoTime,
  signal: text,
  accepted: z.boolean(),
  by: z.string().optional(),
  arrival: certificateArrivalSchema.optional(),
  reason: z.string().optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

/** Everything that is signed: the certificate without `signature.value`. */
const certificateFields = {
  format: z.literal(CERTIFICATE_FORMAT),
  certificateId: text,
  /** Position in the ledger: 1 for the first certificate ever issued, then +1 each. */
  sequence: z.number().int().min(1),
  issuedAt: isoTime,
  engineVersion: text,
  request: z.strictObject({
    requestId: text,
    workflowId: text,
    runId: text,
    firstRunId: text,
    jurisdiction: text,
    receivedAt: isoTime,
    deadline: isoTime,
    deadlineExtended: z.boolean(),
    completedAt: isoTime,
  }),
  subject: z.strictObject({ commitment: subjectCommitmentSchema }),
  systems: z.array(certificateSystemSchema),
  consumers: z.array(certificateConsumerSchema),
  operatorActions: z.array(certificateActionSchema),
  /** SHA-256 (hex) of the canonical JSON of the previous certificate in the ledger; null for the first. */
  previousCertificateHash: hex64.nullable(),
};

export const signatureSchema = z.strictObject({
  algorithm: z.literal('Ed25519'),
  keyId: text,
  /** The 64-byte Ed25519 signature, base64url (86 characters). */
  value: base64url.length(86),
});

export const certificateSchema = z.strictObject({ ...certificateFields, signature: signatureSchema });

export type SubjectCommitment = z.infer<typeof subjectCommitmentSchema>;
export type CertificateSystem = z.infer<typeof certificateSystemSchema>;
export type CertificateConsumer = z.infer<typeof certificateConsumerSchema>;
export type CertificateAction = z.infer<typeof certificateActionSchema>;
export type CertificateSignature = z.infer<typeof signatureSchema>;
/** A signed erasure certificate. */
export type ErasureCertificate = z.infer<typeof certificateSchema>;
/** A certificate before signing. */
export type UnsignedCertificate = Omit<ErasureCertificate, 'signature'>;

/** Formats a schema failure as `path: message` lines (at most five); values are never echoed. */
export const describeIssues = (error: z.ZodError): string => formatIssues(error, { limit: 5 });
