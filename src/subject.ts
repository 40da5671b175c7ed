/** Subject references: salted hashes that stand for a person in logs, events and search attributes. */
import { createHmac } from 'node:crypto';
import type { SubjectIdentifiers } from './workflows/definitions';

/** Identifier pairs in a fixed order, so the same subject always hashes the same. */
export function identifierPairs(subject: SubjectIdentifiers): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (subject.email) pairs.push(['email', subject.email]);
  if (subject.userId) pairs.push(['userId', subject.userId]);
  if (subject.phone) pairs.push(['phone', subject.phone]);
  for (const key of Object.keys(subject.custom ?? {}).sort()) pairs.push([`custom.${key}`, subject.custom![key]]);
  return pairs;
}

/**
 * A keyed hash of the subject's identifiers, prefixed `subj_`. Without the secret nobody can test a guess.
 * @example subjectRef({ email: 'a@b.c' }, secret) // 'subj_3f…'
 */
export function subjectRef(subject: SubjectIdentifiers, secret: string): string {
  const h = createHmac('sha256', secret);
  for (const [k, v] of identifierPairs(subject)) h.update(`${k}\u0000${v}\u0000`);
  return `subj_${h.digest('hex').slice(0, 32)}`;
}
