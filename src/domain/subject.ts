/**
 * The data subject's identifiers: the schema every edge validates with, and the pure helpers that read
 * them. Values are personal data: they travel only inside encrypted payloads, never in logs or events.
 */
import { z } from 'zod';

/** Fewest digits a phone identifier may have once its separators are gone. */
export const MIN_PHONE_DIGITS = 7;

/**
 * The characters `String.prototype.trim` removes (JS white space and line terminators), spelt out: a pattern
 * built from them means the same to every regex engine that reads the OpenAPI document, which `\s` does not.
 */
export const TRIMMED_CHARACTERS = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';

/** Holds a character trimming keeps: the wire form of "not blank once trimmed". */
export const notBlankPattern = new RegExp(`[^${TRIMMED_CHARACTERS}]`);

/** `core`, with the white space trimming removes allowed around it: what the wire may carry before normalising. */
const padded = (core: string) => new RegExp(`^[${TRIMMED_CHARACTERS}]*(?:${core})[${TRIMMED_CHARACTERS}]*$`);

// The patterns are checked on the value as sent, so the document states exactly what is accepted.
const emailPattern = padded(z.regexes.email.source.replace(/^\^|\$$/g, ''));
const phonePattern = padded('\\+?[0-9 ().-]{4,32}');
const phoneDigitsPattern = new RegExp(`[0-9](?:[^0-9]*[0-9]){${MIN_PHONE_DIGITS - 1}}`);

/** A subject's identifiers, normalised (trimmed, e-mail lower-cased, phone without separators). */
export const subjectIdentifiersSchema = z
  .object({
    email: z.string().regex(emailPattern, 'Invalid email address').trim().toLowerCase().pipe(z.email()).optional(),
    userId: z.string().max(256).regex(notBlankPattern, 'must not be blank').trim().optional(),
    phone: z
      .string()
      .regex(phonePattern, { message: 'must be a phone number', abort: true })
      // A short number ("123", an extension) is shared by many people: matching on it would erase theirs too.
      .regex(phoneDigitsPattern, `must have at least ${MIN_PHONE_DIGITS} digits`)
      .transform((p) => p.trim().replace(/[ ().-]/g, ''))
      .optional(),
    custom: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), z.string().max(1024).regex(notBlankPattern, 'must not be blank').trim()).optional(),
  })
  .strict()
  .refine((s) => Boolean(s.email || s.userId || s.phone || (s.custom && Object.keys(s.custom).length > 0)), {
    message: 'at least one identifier is required: email, userId, phone or a custom key',
  })
  // The refinement above, for the document: JSON Schema cannot read it from the code.
  .meta({ anyOf: [{ required: ['email'] }, { required: ['userId'] }, { required: ['phone'] }, { required: ['custom'], properties: { custom: { minProperties: 1 } } }] });
export type SubjectIdentifiers = z.infer<typeof subjectIdentifiersSchema>;

/** Names of identifiers a catalog can match on: the built-in ones or `custom.<key>`. */
export type IdentifierName = 'email' | 'userId' | 'phone' | `custom.${string}`;

/** The pattern an identifier name in a catalog must follow. */
export const identifierNamePattern = /^(email|userId|phone|custom\.[A-Za-z][A-Za-z0-9_]{0,63})$/;

/** Looks up one identifier's value; `undefined` when the subject does not have it. */
export function identifierValue(subject: SubjectIdentifiers, name: string): string | undefined {
  if (name.startsWith('custom.')) return subject.custom?.[name.slice('custom.'.length)];
  if (name === 'email' || name === 'userId' || name === 'phone') return subject[name];
  return undefined;
}

/**
 * Identifiers a system found for the subject (`provides` in the catalog: the customer row found by e-mail
 * gives the subject's `userId`), per identifier name, used where the request did not carry that identifier.
 * One name may get several values (two customer rows for one e-mail): every one is erased. Personal data,
 * like the request's own identifiers.
 */
export type DerivedIdentifiers = Record<string, string[]>;

/**
 * Every value to look for under one identifier name: the request's own value when it carried one, otherwise
 * the derived values (deduplicated, in first-seen order), otherwise none.
 * @example identifierValues({ email: 'a@example.com' }, 'userId', { userId: ['41', '42'] }) // ['41', '42']
 */
export function identifierValues(subject: SubjectIdentifiers, name: string, derived?: DerivedIdentifiers): string[] {
  const own = identifierValue(subject, name);
  if (own !== undefined && own !== '') return [own];
  return [...new Set((derived?.[name] ?? []).filter((v) => v !== ''))];
}

/**
 * One value of one identifier, normalised as a request's own would be (trimmed, e-mail lower-cased, phone
 * without separators), or `undefined` when it breaks that identifier's rules (a phone of too few digits, which
 * many people share). Values a system derives pass through here before any other system matches on them.
 * @example normaliseIdentifier('email', ' Ada@Example.com') // 'ada@example.com'
 */
export function normaliseIdentifier(name: string, value: string): string | undefined {
  if (!identifierNamePattern.test(name)) return undefined;
  const one = name.startsWith('custom.') ? { custom: { [name.slice('custom.'.length)]: value } } : { [name]: value };
  const parsed = subjectIdentifiersSchema.safeParse(one);
  return parsed.success ? identifierValue(parsed.data, name) : undefined;
}

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
 * What a provider found, kept to the names it `provides` (less those `skip` names) and to values a request
 * could carry itself, normalised the same way and deduplicated. Counts the values dropped, never says which.
 * @example keepProvided(['userId'], { userId: [' 17 ', '17', ''] }) // { derived: { userId: ['17'] }, dropped: 1 }
 */
export function keepProvided(provides: readonly string[], found: DerivedIdentifiers, skip: (name: string) => boolean = () => false): { derived: DerivedIdentifiers; dropped: number } {
  const derived: DerivedIdentifiers = {};
  let dropped = 0;
  for (const name of provides) {
    if (skip(name)) continue;
    const values = new Set<string>();
    for (const v of Array.isArray(found?.[name]) ? found[name] : []) {
      const normal = typeof v === 'string' ? normaliseIdentifier(name, v) : undefined;
      if (normal === undefined) dropped++;
      else values.add(normal);
    }
    if (values.size > 0) derived[name] = [...values];
  }
  return { derived, dropped };
}
