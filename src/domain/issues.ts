/** The one formatter of schema problems, for messages that say which field is wrong and why. */
import type { z } from 'zod';

export interface FormatIssuesOptions {
  /** Written for an issue at the root (no path). */
  root?: string;
  /** Between two issues. */
  separator?: string;
  /** Prepended to every path (e.g. `body`). */
  prefix?: string;
  /** Most issues listed; the rest are counted. */
  limit?: number;
}

/** `path: message` of one issue, paths joined with dots. */
export function issuePath(issue: z.core.$ZodIssue, opts: Pick<FormatIssuesOptions, 'root' | 'prefix'> = {}): string {
  const parts = [...(opts.prefix ? [opts.prefix] : []), ...issue.path.map(String)];
  return parts.length ? parts.join('.') : (opts.root ?? '(root)');
}

/**
 * Each issue as `path: message`, joined.
 * @example formatIssues(result.error, { root: 'payload' }) // 'system: Required; note: Too long'
 */
export function formatIssues(error: z.ZodError, opts: FormatIssuesOptions = {}): string {
  const limit = opts.limit ?? Infinity;
  const lines = error.issues.slice(0, limit).map((i) => `${issuePath(i, opts)}: ${i.message}`);
  if (error.issues.length > limit) lines.push(`… and ${error.issues.length - limit} more`);
  return lines.join(opts.separator ?? '; ');
}
