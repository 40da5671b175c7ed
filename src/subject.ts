/** Subject references: salted hashes that stand for a person in logs, events and search attributes. */
import { createHmac } from 'node:crypto';
import { identifierPairs, type SubjectIdentifiers } from './domain';

/**
 * A keyed hash of the subject's identifiers, prefixed `subj_`. Without the secret nobody can test a guess.
 * @example subjectRef({ email: 'a@b.c' }, secret) // 'subj_3f…'
 */
export function subjectRef(subject: SubjectIdentifiers, secret: string): string {
  const h = createHmac('sha256', secret);
  for (const [k, v] of identifierPairs(subject)) h.update(`${k}\u0000${v}\u0000`);
  return `subj_${h.digest('hex').slice(0, 32)}`;
}
