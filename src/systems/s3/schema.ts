/**
 * The catalog entry of an S3 (or S3-compatible) system: a bucket and the key prefixes and exact keys, with
 * identifier placeholders, under which a subject's objects live.
 */
import { z } from 'zod';
import { identifierNamePattern } from '../../domain';
import { common, httpUrl } from '../fields';

const placeholder = /\{([^{}]*)\}/g;

/**
 * Why a key template (a prefix, or an exact key) could reach another subject's objects, or undefined when
 * it cannot. The catalog refuses such templates, and the connector checks again any plan it is given (a
 * workflow started by hand never passed through the catalog).
 *
 * A prefix is safe only when every placeholder is followed directly by "/": identifier values never contain
 * "/" (URL encoding writes it as %2F; with `encoding: raw` the connector refuses such values), so each value
 * fills a whole path segment and two subjects' prefixes can never nest. `users/{userId}-` for 42 would
 * be `users/42-`, which also lists `users/42-1/…` of subject 42-1; `users/{userId}` and
 * `exports/{userId}.zip` as prefixes fail the same way.
 *
 * An exact key is compared whole, never as a prefix, so one placeholder anywhere is safe: `exports/{userId}.zip`
 * is `exports/a.zip` for a and `exports/a.zip.zip` for a.zip, never the same key for two values. Two
 * placeholders must be split by "/", or two subjects could expand to one key: `{userId}-{phone}` is `a-b-c`
 * both for (a-b, c) and for (a, b-c).
 * @example templateProblem('users/{userId}-', 'prefix'); // 'placeholder {userId} must be followed directly by "/": …'
 */
export function templateProblem(template: string, kind: 'prefix' | 'key'): string | undefined {
  const found = [...template.matchAll(placeholder)];
  const names = found.map((m) => m[1]);
  if (names.length === 0) return 'needs an identifier placeholder such as {userId}: without one it would match every subject';
  const unknown = names.find((n) => !identifierNamePattern.test(n));
  if (unknown !== undefined) return `unknown placeholder {${unknown}} (expected email, userId, phone or custom.<key>)`;
  if (/[{}]/.test(template.replace(placeholder, ''))) return 'has an unbalanced "{" or "}"';
  // For a key the last placeholder may be followed by anything: only runs of placeholders are ambiguous.
  const mustClose = kind === 'prefix' ? found : found.slice(0, -1);
  const open = mustClose.find((m) => template[m.index + m[0].length] !== '/');
  if (open === undefined) return undefined;
  return kind === 'prefix'
    ? `placeholder {${open[1]}} must be followed directly by "/": otherwise another subject's id could start with this one's (ann-2 starts with ann)`
    : `placeholder {${open[1]}} must be followed directly by "/" when another placeholder comes after it: otherwise two subjects could expand to the same key (a-b with c, a with b-c)`;
}

export const s3SystemSchema = z
  .object({
    ...common,
    kind: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,62}$/, 'must be a valid bucket name'),
    /** Key prefixes with `{identifier}` placeholders, each followed by "/", e.g. `users/{userId}/`: everything under them goes. */
    prefixes: z.array(z.string().min(1)).default([]),
    /** Exact keys with placeholders, e.g. `exports/{userId}.zip`. */
    keys: z.array(z.string().min(1)).default([]),
    /** How identifier values are written into keys: `url` (encodeURIComponent, the default) or `raw`. */
    encoding: z.enum(['url', 'raw']).default('url'),
    /** S3-compatible endpoint (MinIO); AWS S3 when absent. */
    endpoint: httpUrl.optional(),
    region: z.string().default('us-east-1'),
    /** Path-style addressing (MinIO). Set false for AWS virtual-hosted style. */
    forcePathStyle: z.boolean().default(true),
    accessKeyId: z.string().optional(),
    secretAccessKey: z.string().optional(),
    sessionToken: z.string().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.prefixes.length === 0 && s.keys.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['prefixes'], message: 'needs at least one prefix or key' });
    }
    s.prefixes.forEach((p, i) => {
      const problem = templateProblem(p, 'prefix');
      if (problem) ctx.addIssue({ code: 'custom', path: ['prefixes', i], message: problem });
    });
    s.keys.forEach((k, i) => {
      const problem = templateProblem(k, 'key');
      if (problem) ctx.addIssue({ code: 'custom', path: ['keys', i], message: problem });
    });
    if ((s.accessKeyId === undefined) !== (s.secretAccessKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey'], message: 'accessKeyId and secretAccessKey go together' });
    }
  });

export type S3System = z.infer<typeof s3SystemSchema>;
