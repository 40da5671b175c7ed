/**
 * The report command of the `erasure` CLI:
 *   report [--from <date>] [--to <date>] [--format table|csv|json] [--database-url <url>]
 *
 * The erasure report an auditor reads (src/use-cases/report.ts): per jurisdiction and in total, the
 * requests received in [from, to) and what became of them. It reads the ledger database (DATABASE_URL, as
 * `ledger check` does) and prints counts, durations and, in JSON, the ids of overdue requests; never
 * anything about a subject. Exit code 0 with the report, 1 when the ledger cannot be read, 2 for bad
 * options (a date that is not one, `--from` after `--to`, more than 5 years, an unknown format).
 */
import type { Command } from 'commander';
import { ConfigError, loadCliConfig } from '../config';
import { createPool } from '../ledger/db';
import { createRequestRepository } from '../ledger/requests';
import { UseCaseError } from '../use-cases/errors';
import { erasureReport, formatReportCsv, formatReportTable, REPORT_DEFAULT_DAYS, type ErasureReport } from '../use-cases/report';
import { processIo, type CliIo } from './io';

export const ReportExit = { ok: 0, unavailable: 1, invalid: 2 } as const;

export const reportFormats = ['table', 'csv', 'json'] as const;
export type ReportFormat = (typeof reportFormats)[number];

export interface ReportOptions {
  from?: string;
  to?: string;
  /** Default `table`. */
  format?: string;
  /** Default: DATABASE_URL from the environment. */
  databaseUrl?: string;
  /** The clock (tests). */
  now?: () => Date;
}

/** The report in the chosen format, line by line (CSV lines keep their CR, so the output is RFC 4180 with CRLF). */
function render(report: ErasureReport, format: ReportFormat): string[] {
  if (format === 'json') return [JSON.stringify(report, null, 2)];
  if (format === 'csv') return formatReportCsv(report).split('\n').filter((l) => l !== '');
  return formatReportTable(report);
}

/**
 * Runs `report`; returns the exit code it set.
 * @example await runReport({ from: '2026-11-01', to: '2026-12-01', format: 'csv' }, processIo()) // 0
 */
export async function runReport(opts: ReportOptions, io: CliIo = processIo()): Promise<number> {
  const exit = (code: number, message?: string) => {
    if (message) io.err(`erasure report: ${message}`);
    io.setExitCode(code);
    return code;
  };
  const format = opts.format ?? 'table';
  if (!(reportFormats as readonly string[]).includes(format)) return exit(ReportExit.invalid, `--format must be one of ${reportFormats.join(', ')} (got "${format}")`);

  let url = opts.databaseUrl;
  if (!url) {
    try {
      url = loadCliConfig(io.env, ['DATABASE_URL']).DATABASE_URL;
    } catch (err) {
      if (err instanceof ConfigError) return exit(ReportExit.invalid, err.message.replace(/\n\s*/g, ' '));
      throw err;
    }
  }
  if (!url) return exit(ReportExit.invalid, 'no ledger database: set DATABASE_URL or pass --database-url');

  const pool = createPool({ connectionString: url, max: 1, applicationName: 'erasure-cli' });
  try {
    const report = await erasureReport({ requests: createRequestRepository(pool), now: opts.now }, { from: opts.from, to: opts.to }, { from: '--from', to: '--to' });
    render(report, format as ReportFormat).forEach((line) => io.out(line));
    return exit(ReportExit.ok);
  } catch (err) {
    if (err instanceof UseCaseError) return exit(err.kind === 'invalid' ? ReportExit.invalid : ReportExit.unavailable, err.message);
    return exit(ReportExit.unavailable, (err as Error).message);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** Adds `report` to the program. */
export function registerReportCommand(program: Command, io: CliIo = processIo()): void {
  program
    .command('report')
    .description('the erasure report for auditors: per jurisdiction and in total, requests received in [from, to) and what became of them')
    .option('--from <date>', `first instant included: a date (2026-11-01, UTC) or an ISO 8601 date-time (default: ${REPORT_DEFAULT_DAYS} days before --to)`)
    .option('--to <date>', 'first instant excluded, same forms (default: now)')
    .option('--format <format>', `${reportFormats.join(' | ')}`, 'table')
    .option('--database-url <url>', 'ledger database (default: $DATABASE_URL)')
    .action(async (options: { from?: string; to?: string; format: string; databaseUrl?: string }) => {
      await runReport(options, io);
    });
}
