/**
 * The catalog entry of an S3 (or S3-compatible) system: a bucket and the key prefixes and exact keys, with
 * identifier placeholders, under which a subject's objects live.
 */
import { z } from 'zod';
import { identifierNamePattern } from '../../domain';
import { common, httpUrl } from '../fields';

const placeholder = /\{([^{}]*)\}/g;

/** Checks one key template: known placeholders, at least one, and (prefixes) not ending in one. */
function checkTemplate(template: string, isPrefix: boolean): string | undefined {
  const names = [...template.matchAll(placeholder)].map((m) => m[1]);
  if (names.length === 0) return 'needs an identifier placeholder such as {userId}: without one it would match every subject';
  const unknown = names.find((n) => !identifierNamePattern.test(n));
  if (unknown !== undefined) return `unknown placeholder {${unknown}} (expected email, userId, phone or custom.<key>)`;
  if (/[{}]/.test(template.replace(placeholder, ''))) return 'has an unbalanced "{" or "}"';
  // "users/{userId}" would also match users/{userId}123/…: a prefix must close the identifier with a literal.
  if (isPrefix && /\}$/.test(template)) return 'must not end with a placeholder (end it with "/" or another delimiter)';
  return undefined;
}

export const s3SystemSchema = z
  .object({
    ...common,
    kind: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,62}$/, 'must be a valid bucket name'),
    /** Key prefixes with `{identifier}` placeholders, e.g. `users/{userId}/`: everything under them goes. */
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
      const problem = checkTemplate(p, true);
      if (problem) ctx.addIssue({ code: 'custom', path: ['prefixes', i], message: problem });
    });
    s.keys.forEach((k, i) => {
      const problem = checkTemplate(k, false);
      if (problem) ctx.addIssue({ code: 'custom', path: ['keys', i], message: problem });
    });
    if ((s.accessKeyId === undefined) !== (s.secretAccessKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey'], message: 'accessKeyId and secretAccessKey go together' });
    }
  });

export type S3System = z.infer<typeof s3SystemSchema>;
