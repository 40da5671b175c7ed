/**
 * How an S3 system's key templates become the subject's keys and prefixes: each `{identifier}` placeholder
 * filled with the subject's values (the request's own, or those other systems derived), in the catalog's
 * encoding. Expanded keys hold identifier values: they never leave the process.
 */
import { identifierValues, type DerivedIdentifiers, type SubjectIdentifiers } from '../../domain';
import type { S3System } from './schema';

/** How identifier values are written into keys (the catalog's `encoding`). */
export type Encoding = S3System['encoding'];

const encoders = {
  url: (v: string) => encodeURIComponent(v),
  raw: (v: string) => v,
};

/** A value that, written raw, would not stay inside one path segment: "/" in it, ".", "..", or only blanks. */
const unsafeRaw = (v: string) => v.includes('/') || v.trim() === '' || v === '.' || v === '..';

/**
 * Fills `{identifier}` placeholders with the subject's values: one key or prefix per combination of values
 * (a derived `userId: ['17', '18']` gives `users/17/` and `users/18/`; the request's own value wins over
 * derived ones). None when a placeholder has no value, so that a template never collapses into a broader
 * prefix. With `skipUnsafeRaw`, raw values that would leave their path segment are skipped instead of
 * written (verification's second encoding: see {@link unsafeRawPlaceholder} for the erase's refusal).
 * @example expandTemplate('users/{userId}/', { email: 'a@x.com' }, 'url', { userId: ['17', '18'] }) // ['users/17/', 'users/18/']
 */
export function expandTemplate(template: string, subject: SubjectIdentifiers, encoding: Encoding, derived?: DerivedIdentifiers, skipUnsafeRaw = false): string[] {
  // Literal text and placeholder names alternate: split keeps the captured names at odd positions.
  const parts = template.split(/\{([^{}]+)\}/);
  let out = [''];
  parts.forEach((part, i) => {
    if (i % 2 === 0) {
      out = out.map((prefix) => prefix + part);
      return;
    }
    const values = identifierValues(subject, part, derived).filter((v) => !(skipUnsafeRaw && encoding === 'raw' && unsafeRaw(v)));
    out = out.flatMap((prefix) => values.map((v) => prefix + encoders[encoding](v)));
  });
  return [...new Set(out)];
}

/**
 * With `encoding: raw`, the first placeholder among `templates` one of whose values (own or derived) would
 * not stay inside one path segment: one holding "/" (subject a/b's `users/a/b/` is the b/ folder of subject
 * a), ".", ".." or only blanks. Undefined when every value is safe.
 * @example unsafeRawPlaceholder(['users/{userId}/'], { userId: 'a/b' }); // 'userId'
 */
export function unsafeRawPlaceholder(templates: string[], subject: SubjectIdentifiers, derived?: DerivedIdentifiers): string | undefined {
  for (const template of templates) {
    for (const [, name] of template.matchAll(/\{([^{}]+)\}/g)) {
      if (identifierValues(subject, name, derived).some(unsafeRaw)) return name;
    }
  }
  return undefined;
}
