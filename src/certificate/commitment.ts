/**
 * The subject commitment: how a certificate stands for a person without naming them.
 *
 * For each normalised identifier the certificate holds SHA-256(salt ‖ type ‖ 0x00 ‖ value) next to the
 * identifier's type, with a fresh 32-byte salt per certificate. A subject who knows their identifier can
 * recompute the digest; the salt keeps precomputed tables useless and makes two certificates for the same
 * person unlinkable. Anyone holding the certificate can still test a guess, so certificates are handed
 * only to the subject and to auditors.
 *
 * Identifiers the engine found for the subject (a `userId` a customer table `provides`) are committed to the
 * same way after the request's own, each marked `derived: true`: the certificate says which were asked for
 * and which the engine worked out, without saying any of them.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { identifierNamePattern, identifierPairs, identifierValue } from '../domain';
import type { DerivedIdentifiers, SubjectIdentifiers } from '../domain';
import type { SubjectCommitment } from './schema';

/** The digest of one identifier under a salt. */
export function identifierDigest(salt: Buffer, type: string, value: string): string {
  return createHash('sha256').update(salt).update(type, 'utf8').update(Buffer.of(0)).update(value, 'utf8').digest('hex');
}

const builtInOrder = ['email', 'userId', 'phone'];
const rank = (name: string): number => (builtInOrder.includes(name) ? builtInOrder.indexOf(name) : builtInOrder.length);

/**
 * The derived identifiers as pairs in a fixed order (built-in names first, then custom ones by name; values
 * sorted), leaving out names the subject carries itself. Throws on a name the engine does not know.
 * @example derivedPairs({ email: 'ada@example.com' }, { userId: ['42', '17'] }) // [['userId', '17'], ['userId', '42']]
 */
export function derivedPairs(subject: SubjectIdentifiers, derived: DerivedIdentifiers | undefined): Array<[string, string]> {
  const names = Object.keys(derived ?? {}).filter((name) => !identifierValue(subject, name));
  const unknown = names.filter((name) => !identifierNamePattern.test(name));
  if (unknown.length > 0) throw new TypeError(`derived identifiers of unknown types: ${unknown.join(', ')}`);
  names.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return names.flatMap((name) => [...new Set(derived![name].filter((v) => typeof v === 'string' && v !== ''))].sort().map((v): [string, string] => [name, v]));
}

/**
 * Commits to a subject's identifiers (already normalised by the subject schema) and to those derived for it.
 * @example const commitment = commitSubject({ email: 'ada@example.com' }, undefined, { userId: ['17'] });
 */
export function commitSubject(subject: SubjectIdentifiers, salt: Buffer = randomBytes(32), derived?: DerivedIdentifiers): SubjectCommitment {
  const pairs = identifierPairs(subject);
  if (pairs.length === 0) throw new TypeError('a subject needs at least one identifier');
  return {
    algorithm: 'sha-256',
    salt: salt.toString('base64url'),
    identifiers: [
      ...pairs.map(([type, value]) => ({ type, digest: identifierDigest(salt, type, value) })),
      ...derivedPairs(subject, derived).map(([type, value]) => ({ type, digest: identifierDigest(salt, type, value), derived: true as const })),
    ],
  };
}

/** The outcome for one identifier checked against a commitment. */
export interface IdentifierMatch {
  type: string;
  /** `match`: the digest is the certificate's; `mismatch`: it is not; `absent`: the certificate commits to no identifier of this type. */
  result: 'match' | 'mismatch' | 'absent';
  /** Set on a match with an identifier the engine derived (the request did not carry it). */
  derived?: true;
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
    const hit = committed.find((c) => timingSafeEqual(Buffer.from(c.digest, 'hex'), digest));
    if (!hit) return { type, result: 'mismatch' as const };
    return hit.derived ? { type, result: 'match' as const, derived: true as const } : { type, result: 'match' as const };
  });
}
