/**
 * The subject commitment: how a certificate stands for a person without naming them.
 *
 * For each normalised identifier the certificate holds a digest of type ‖ 0x00 ‖ value under a fresh 32-byte
 * salt, next to the identifier's type. A subject who knows their identifier can recompute it
 * (`erasure certificate verify-subject`); the salt keeps precomputed tables useless and makes two
 * certificates for the same person unlinkable. Anyone holding the certificate can still test a guess, and
 * many identifiers have few possible values (a phone number, a numeric user id): the digest is therefore
 * scrypt, memory-hard and slow on purpose (about a tenth of a second and 32 MiB per guess at the default
 * cost), so trying every phone number of a country takes years instead of minutes. Certificates issued
 * before used SHA-256 and still verify.
 *
 * Identifiers the engine found for the subject (a `userId` a customer table `provides`) are committed to the
 * same way after the request's own, each marked `derived: true`: the certificate says which were asked for
 * and which the engine worked out, without saying any of them.
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { identifierNamePattern, identifierPairs, identifierValue } from '../domain';
import type { DerivedIdentifiers, SubjectIdentifiers } from '../domain';
import type { SubjectCommitment } from './schema';

/** The cost certificates are issued with: 32 MiB and roughly 0.1 s per digest on a current core. */
export const COMMITMENT_COST = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

/** What a digest is computed with: the commitment's algorithm and, for scrypt, its cost. */
type Derivation = Pick<SubjectCommitment, 'algorithm' | 'cost'>;

/** What is hashed for one identifier: type ‖ 0x00 ‖ value. */
const digestInput = (type: string, value: string) => Buffer.concat([Buffer.from(type, 'utf8'), Buffer.of(0), Buffer.from(value, 'utf8')]);
const scryptParams = (how: Derivation) => {
  const { N, r, p } = how.cost ?? COMMITMENT_COST;
  return { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
};

/** The digest of one identifier under a salt (hex). */
export function identifierDigest(salt: Buffer, type: string, value: string, how: Derivation = { algorithm: 'scrypt', cost: COMMITMENT_COST }): string {
  const input = digestInput(type, value);
  if (how.algorithm === 'sha-256') return createHash('sha256').update(salt).update(input).digest('hex');
  return scryptSync(input, salt, 32, scryptParams(how)).toString('hex');
}

/** {@link identifierDigest} of scrypt on libuv's thread pool: the calling event loop stays free meanwhile. */
function scryptDigest(salt: Buffer, type: string, value: string): Promise<string> {
  return new Promise((resolve, reject) =>
    scrypt(digestInput(type, value), salt, 32, scryptParams({ algorithm: 'scrypt', cost: COMMITMENT_COST }), (err, key) => (err ? reject(err) : resolve(key.toString('hex')))),
  );
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
  const how = { algorithm: 'scrypt' as const, cost: { ...COMMITMENT_COST } };
  return commitmentOf(subject, salt, derived, (type, value) => identifierDigest(salt, type, value, how));
}

/**
 * {@link commitSubject} with every digest computed at once on libuv's thread pool, so a worker issuing
 * certificates keeps serving its other activities and workflows while the deliberately slow hashes run.
 */
export async function commitSubjectAsync(subject: SubjectIdentifiers, salt: Buffer = randomBytes(32), derived?: DerivedIdentifiers): Promise<SubjectCommitment> {
  const pending = commitmentOf(subject, salt, derived, (type, value) => scryptDigest(salt, type, value));
  const digests = await Promise.all(pending.identifiers.map((i) => i.digest));
  return { ...pending, identifiers: pending.identifiers.map((i, k) => ({ ...i, digest: digests[k] })) };
}

/** The commitment's shape around digests computed by `digest` (strings, or promises of them). */
function commitmentOf<D>(subject: SubjectIdentifiers, salt: Buffer, derived: DerivedIdentifiers | undefined, digest: (type: string, value: string) => D) {
  const pairs = identifierPairs(subject);
  if (pairs.length === 0) throw new TypeError('a subject needs at least one identifier');
  return {
    algorithm: 'scrypt' as const,
    cost: { ...COMMITMENT_COST },
    salt: salt.toString('base64url'),
    identifiers: [
      ...pairs.map(([type, value]) => ({ type, digest: digest(type, value) })),
      ...derivedPairs(subject, derived).map(([type, value]) => ({ type, digest: digest(type, value), derived: true as const })),
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
    const digest = Buffer.from(identifierDigest(salt, type, value, commitment), 'hex');
    const hit = committed.find((c) => timingSafeEqual(Buffer.from(c.digest, 'hex'), digest));
    if (!hit) return { type, result: 'mismatch' as const };
    return hit.derived ? { type, result: 'match' as const, derived: true as const } : { type, result: 'match' as const };
  });
}
