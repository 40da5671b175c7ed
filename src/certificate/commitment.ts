/**
 * The subject commitment: how a certificate stands for a person without naming them.
 *
 * For each normalised identifier the certificate holds SHA-256(salt ‖ type ‖ 0x00 ‖ value) next to the
 * identifier's type, with a fresh 32-byte salt per certificate. A subject who knows their identifier can
 * recompute the digest; the salt keeps precomputed tables useless and makes two certificates for the same
 * person unlinkable. Anyone holding the certificate can still test a guess, so certificates are handed
 * only to the subject and to auditors.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { identifierPairs } from '../domain';
import type { SubjectIdentifiers } from '../domain';
import type { SubjectCommitment } from './schema';

/** The digest of one identifier under a salt. */
export function identifierDigest(salt: Buffer, type: string, value: string): string {
  return createHash('sha256').update(salt).update(type, 'utf8').update(Buffer.of(0)).update(value, 'utf8').digest('hex');
}

/**
 * Commits to a subject's identifiers (already normalised by the subject schema).
 * @example const commitment = commitSubject({ email: 'ada@example.com' });
 */
export function commitSubject(subject: SubjectIdentifiers, salt: Buffer = randomBytes(32)): SubjectCommitment {
  const pairs = identifierPairs(subject);
  if (pairs.length === 0) throw new TypeError('a subject needs at least one identifier');
  return {
    algorithm: 'sha-256',
    salt: salt.toString('base64url'),
    identifiers: pairs.map(([type, value]) => ({ type, digest: identifierDigest(salt, type, value) })),
  };
}

/** The outcome for one identifier checked against a commitment. */
export interface IdentifierMatch {
  type: string;
  /** `match`: the digest is the certificate's; `mismatch`: it is not; `absent`: the certificate commits to no identifier of this type. */
  result: 'match' | 'mismatch' | 'absent';
}

/**
 * Checks normalised identifiers against a commitment, one result per identifier given.
 * @example matchSubject(cert.subject.commitment, { email: 'ada@example.com' }) // [{ type: 'email', result: 'match' }]
 */
export function matchSubject(commitment: SubjectCommitment, subject: SubjectIdentifiers): IdentifierMatch[] {
  const salt = Buffer.from(commitment.salt, 'base64url');
  return identifierPairs(subject).map(([type, value]) => {
    const committed = commitment.identifiers.filter((i) => i.type === type);
    if (committed.length === 0) return { type, result: 'absent' as const };
    const digest = Buffer.from(identifierDigest(salt, type, value), 'hex');
    const hit = committed.some((c) => timingSafeEqual(Buffer.from(c.digest, 'hex'), digest));
    return { type, result: hit ? ('match' as const) : ('mismatch' as const) };
  });
}
