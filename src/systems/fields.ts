/**
 * Schema atoms every kind of system builds its catalog entry from. Pure zod, no I/O: the catalog loader,
 * the CLI and the API all validate with them.
 */
import { z } from 'zod';
import { identifierNamePattern } from '../domain';
import { notifyTargetsSchema } from '../notify/schema';

/** Catalog ids become workflow state keys, search attribute values and CLI arguments: keep them plain. */
export const id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be lower-case letters, digits, "-" or "_" (max 64)');

/** SQL identifiers: only names that need no escaping beyond double quotes are accepted. */
export const sqlName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier (letters, digits, "_")');

/** The name of a subject identifier a system matches on: `email`, `userId`, `phone` or `custom.<key>`. */
export const identifier = z.string().regex(identifierNamePattern, 'must be email, userId, phone or custom.<key>');

/** A `${VAR}` reference left in place (plans parsed without interpolation) passes format checks. */
const isReference = (s: string) => s.includes('${');

/**
 * A URL with one of `protocols` (each with its colon) and a host.
 * @example const amqpUrl = urlWith(['amqp:', 'amqps:'], 'must be an amqp:// URL');
 */
export function urlWith(protocols: readonly string[], message: string) {
  return z.string().refine((s) => {
    if (isReference(s)) return true;
    try {
      const u = new URL(s);
      return protocols.includes(u.protocol) && u.hostname !== '';
    } catch {
      return false;
    }
  }, message);
}

/** An http(s) URL. */
export const httpUrl = urlWith(['http:', 'https:'], 'must be an http:// or https:// URL');

/** "3d", "12h", "30m" or a number of days. Parsed to days. */
export const durationDays = z.union([
  z.number().nonnegative(),
  z
    .string()
    .regex(/^\d+(\.\d+)?\s*(d|h|m)$/, 'must be a duration such as 3d, 12h or 30m')
    .transform((s) => {
      const n = parseFloat(s);
      const unit = s.trim().slice(-1);
      return unit === 'd' ? n : unit === 'h' ? n / 24 : n / 1440;
    }),
]);

/** Keys every system has, whatever its kind. */
export const common = {
  id,
  description: z.string().optional(),
  /** Systems that must be erased before this one (e.g. a search index before its source of truth). */
  dependsOn: z.array(id).default([]),
  /** Who is told of this system's part in an erasure (its owner): e-mail, chat webhook (src/notify). Never in a plan. */
  notify: notifyTargetsSchema.optional(),
};
