/**
 * The subject's identifiers as commands take them (`verify-subject`, `preview`): `--email`, `--user-id`,
 * `--phone` and repeatable `--custom key=value`, turned into the shape `subjectIdentifiersSchema` validates.
 */
import type { Command } from 'commander';

export interface IdentifierOptions {
  email?: string;
  userId?: string;
  phone?: string;
  /** `key=value` pairs. */
  custom?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * Adds the identifier options to a command.
 * @example withSubjectOptions(program.command('preview')).action(async (opts: IdentifierOptions) => …);
 */
export function withSubjectOptions(command: Command): Command {
  return command
    .option('--email <email>', 'e-mail address')
    .option('--user-id <id>', 'user id')
    .option('--phone <phone>', 'phone number')
    .option('--custom <key=value>', 'custom identifier (repeatable)', collect);
}

/**
 * The identifiers given, unvalidated (the caller parses them with `subjectIdentifiersSchema`), or why a
 * `--custom` cannot be read.
 * @example subjectFromOptions({ email: 'ada@example.com', custom: ['crm=7'] }) // { subject: { email, custom: { crm: '7' } } }
 */
export function subjectFromOptions(opts: IdentifierOptions): { subject: Record<string, unknown>; problem?: undefined } | { problem: string } {
  const custom: Record<string, string> = {};
  for (const pair of opts.custom ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) return { problem: '--custom takes key=value' };
    custom[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const given = { email: opts.email, userId: opts.userId, phone: opts.phone, custom: Object.keys(custom).length ? custom : undefined };
  return { subject: Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
}
