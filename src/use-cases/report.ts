/**
 * The erasure report an auditor reads: for the requests received in [from, to), per jurisdiction and in
 * total, how many were received, completed (certificate issued), cancelled and are still open, how many
 * went overdue, the on-time rate, how long a certificate took (median, p95) and the age of the oldest open
 * request. The CLI (`erasure report`) and the API (`GET /reports/erasures`) both call {@link erasureReport};
 * the ledger reads the figures in one snapshot (src/ledger/requests.ts, `reportFigures`), everything else
 * here is pure: the range rules, the derived figures and the three renderings (table, CSV, JSON).
 *
 * Definitions (docs in the README's "Report" section):
 * - the cohort is the requests *received* in [from, to); each one's outcome is as the ledger stands when
 *   the report runs (`asOf`);
 * - completed: a certificate was issued; cancelled: withdrawn without one; open: everything else;
 * - overdue = open past the (possibly extended) deadline at `asOf` + completed after that deadline;
 * - on-time rate = completed on or before the (possibly extended) deadline / completed;
 * - median and p95 of the time from receipt to certificate, over the completed requests, computed by
 *   PostgreSQL's percentile_cont (exact, linear interpolation between the two nearest values).
 * Only counts, durations, dates and request ids appear: never anything about a subject.
 */
import { DAY_MS, jurisdictions, type Jurisdiction } from '../domain';
import type { ReportFigures, ReportGroupFigures, ReportOverdueRequest, RequestRepository } from '../ledger/requests';
import { UseCaseError } from './errors';

/** Days the report covers when no `from` is given. */
export const REPORT_DEFAULT_DAYS = 30;
/** The longest range one report may cover, in calendar years. */
export const REPORT_MAX_YEARS = 5;
/** Most overdue requests a JSON report lists (the counts are always complete). */
export const REPORT_OVERDUE_LIMIT = 1000;

/**
 * What `from` and `to` accept: a date (`2026-11-01`, midnight UTC) or a date-time with an optional offset
 * (`2026-11-01T09:30`, `2026-11-01T09:30:00Z`, `2026-11-01T10:30:00.5+01:00`; without one it is UTC).
 * The API's query schema documents and enforces the same pattern.
 */
export const reportInstantPattern = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$/;

/** The names the caller knows the bounds by, for error messages (`--from` on the CLI, `from` in the API). */
export interface BoundNames {
  from: string;
  to: string;
}

/**
 * Parses one bound; a text that is not a real calendar date or time is an `invalid` error naming it.
 * @example parseReportInstant('2026-11-01', 'from').toISOString() // '2026-11-01T00:00:00.000Z'
 */
export function parseReportInstant(text: string, name: string): Date {
  const bad = (why: string) =>
    new UseCaseError('invalid', `${name} "${text}" ${why}: use a date (2026-11-01) or an ISO 8601 date-time (2026-11-01T00:00:00Z)`);
  const m = reportInstantPattern.exec(text);
  if (!m) throw bad('is not a date');
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', offset = 'Z'] = m;
  const parts = [y, mo, d, h, mi, s].map(Number);
  const [year, month, day, hour, minute, second] = parts;
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  utc.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  const exists =
    utc.getUTCFullYear() === year && utc.getUTCMonth() === month - 1 && utc.getUTCDate() === day && utc.getUTCHours() === hour && utc.getUTCMinutes() === minute;
  if (!exists || second > 59) throw bad('is not a calendar date and time');
  if (offset === 'Z') return utc;
  const [oh, om] = offset.slice(1).split(':').map(Number);
  if (oh > 14 || om > 59) throw bad('has an offset outside -14:00…+14:00');
  const sign = offset.startsWith('-') ? -1 : 1;
  return new Date(utc.getTime() - sign * (oh * 60 + om) * 60_000);
}

/**
 * The range a report covers: both bounds given, or `to` defaulting to `now` and `from` to 30 days before
 * `to`. `from` after `to`, a bound that is not a date, or more than 5 years are `invalid` errors.
 * @example resolveReportRange({ from: '2026-11-01', to: '2026-12-01' }, new Date()) // { from: 2026-11-01T00:00Z, to: 2026-12-01T00:00Z }
 */
export function resolveReportRange(input: { from?: string; to?: string }, now: Date, names: BoundNames = { from: 'from', to: 'to' }): { from: Date; to: Date } {
  const to = input.to === undefined ? now : parseReportInstant(input.to, names.to);
  const from = input.from === undefined ? new Date(to.getTime() - REPORT_DEFAULT_DAYS * DAY_MS) : parseReportInstant(input.from, names.from);
  if (from.getTime() > to.getTime()) {
    const toText = input.to ?? `now (${now.toISOString()})`;
    throw new UseCaseError('invalid', `${names.from} ${input.from} is after ${names.to} ${toText}: the range is [${names.from}, ${names.to})`);
  }
  const limit = new Date(from.getTime());
  limit.setUTCFullYear(limit.getUTCFullYear() + REPORT_MAX_YEARS);
  if (to.getTime() > limit.getTime()) {
    throw new UseCaseError('invalid', `the range ${from.toISOString()} to ${to.toISOString()} is longer than ${REPORT_MAX_YEARS} years: ask for several reports`);
  }
  return { from, to };
}

/** One row of the report: a jurisdiction, or `total`. Durations in seconds; null where nothing was measured. */
export interface ReportRow {
  scope: Jurisdiction | 'total';
  received: number;
  /** A certificate was issued. */
  completed: number;
  cancelled: number;
  open: number;
  /** `overdueOpen` + `completedLate`. */
  overdue: number;
  /** Open, and the (possibly extended) deadline has passed. */
  overdueOpen: number;
  /** Certificate issued after the (possibly extended) deadline. */
  completedLate: number;
  /** Certificate issued on or before the (possibly extended) deadline. */
  onTime: number;
  /** Requests whose deadline was extended. */
  extended: number;
  /** `onTime` / `completed`, between 0 and 1; null when none completed. */
  onTimeRate: number | null;
  /** Receipt to certificate over the completed requests (percentile_cont). */
  medianSeconds: number | null;
  p95Seconds: number | null;
  /** Age at `asOf` of the oldest open request, and its id. */
  oldestOpenAgeSeconds: number | null;
  oldestOpenRequestId: string | null;
}

/** The report as JSON shows it; the table and the CSV render the same rows. */
export interface ErasureReport {
  /** Requests received from `from` (included) to `to` (excluded). */
  from: string;
  to: string;
  /** When the outcomes were read: open, overdue and ages are as of this instant. */
  asOf: string;
  /** How the percentiles are computed. */
  percentiles: 'postgresql percentile_cont (linear interpolation)';
  /** GDPR, CCPA, then the total. */
  rows: ReportRow[];
  /** The overdue requests, by deadline (at most 1000: see `overdueRequestsTruncated`). */
  overdueRequests: ReportOverdueRequest[];
  overdueRequestsTruncated: boolean;
}

/** Seconds with millisecond precision: what the ledger's timestamps carry that matters to anyone. */
const secs = (s: number | null) => (s === null ? null : Math.round(s * 1000) / 1000);

function rowOf(scope: ReportRow['scope'], g: ReportGroupFigures | undefined, asOf: Date): ReportRow {
  const completed = g?.completed ?? 0;
  const completedLate = g?.completedLate ?? 0;
  const overdueOpen = g?.overdueOpen ?? 0;
  const onTime = completed - completedLate;
  return {
    scope,
    received: g?.received ?? 0,
    completed,
    cancelled: g?.cancelled ?? 0,
    open: g?.open ?? 0,
    overdue: overdueOpen + completedLate,
    overdueOpen,
    completedLate,
    onTime,
    extended: g?.extended ?? 0,
    onTimeRate: completed === 0 ? null : onTime / completed,
    medianSeconds: secs(g?.medianSeconds ?? null),
    p95Seconds: secs(g?.p95Seconds ?? null),
    oldestOpenAgeSeconds: g?.oldestOpen ? Math.max(0, asOf.getTime() - Date.parse(g.oldestOpen.receivedAt)) / 1000 : null,
    oldestOpenRequestId: g?.oldestOpen?.requestId ?? null,
  };
}

/**
 * The report from the ledger's figures: a row for every jurisdiction (zeros when it received nothing) and
 * the total. Pure: the same figures always give the same report.
 * @example const report = buildErasureReport(await requests.reportFigures({ from, to, asOf, overdueLimit: 1000 }), { from, to }, asOf);
 */
export function buildErasureReport(figures: ReportFigures, range: { from: Date; to: Date }, asOf: Date): ErasureReport {
  const rows: ReportRow[] = [
    ...jurisdictions.map((j) => rowOf(j, figures.groups.find((g) => g.jurisdiction === j), asOf)),
    rowOf('total', figures.groups.find((g) => g.jurisdiction === null), asOf),
  ];
  const total = rows[rows.length - 1];
  return {
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    asOf: asOf.toISOString(),
    percentiles: 'postgresql percentile_cont (linear interpolation)',
    rows,
    overdueRequests: figures.overdue,
    overdueRequestsTruncated: figures.overdue.length < total.overdue,
  };
}

/** What {@link erasureReport} needs: the ledger's requests, and a clock (tests pin it). */
export interface ReportDeps {
  requests: Pick<RequestRepository, 'reportFigures'>;
  now?: () => Date;
}

/**
 * The report for `from`/`to` as the caller wrote them (see {@link resolveReportRange}); `invalid` for a bad
 * range, `unavailable` when the ledger cannot be read.
 * @example const report = await erasureReport({ requests }, { from: '2026-11-01', to: '2026-12-01' });
 */
export async function erasureReport(deps: ReportDeps, input: { from?: string; to?: string }, names?: BoundNames): Promise<ErasureReport> {
  const asOf = deps.now?.() ?? new Date();
  const range = resolveReportRange(input, asOf, names);
  let figures: ReportFigures;
  try {
    figures = await deps.requests.reportFigures({ ...range, asOf, overdueLimit: REPORT_OVERDUE_LIMIT });
  } catch (err) {
    throw new UseCaseError('unavailable', `cannot read the ledger for the report: ${(err as Error).message}`, {}, { cause: err });
  }
  return buildErasureReport(figures, range, asOf);
}

/**
 * `x` with `digits` decimals, halves rounded up as people do (6.85 → 6.9), where `toFixed` rounds the binary
 * value, which for 6.85 lies just below the half.
 * @example fixed(6.85, 1) // '6.9'
 */
export function fixed(x: number, digits: number): string {
  const text = String(x);
  if (/e/i.test(text)) return x.toFixed(digits);
  return (Math.round(Number(`${text}e${digits}`)) / 10 ** digits).toFixed(digits);
}

/** A duration for people: days from one day up, hours from one hour, minutes below. */
export function humanDuration(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds >= DAY_MS / 1000) return `${fixed(seconds / 86_400, 1)} d`;
  if (seconds >= 3600) return `${fixed(seconds / 3600, 1)} h`;
  return `${Math.round(seconds / 60)} min`;
}

const percent = (rate: number | null) => (rate === null ? '-' : `${fixed(rate * 100, 1)}%`);

/** The columns of the table and the CSV, in order: header, then how each row fills it. */
const columns: Array<{ table: string; csv: string; text(r: ReportRow): string; csvValue(r: ReportRow): string }> = [
  { table: 'scope', csv: 'scope', text: (r) => r.scope, csvValue: (r) => r.scope },
  ...(['received', 'completed', 'cancelled', 'open', 'overdue'] as const).map((k) => ({ table: k, csv: k, text: (r: ReportRow) => String(r[k]), csvValue: (r: ReportRow) => String(r[k]) })),
  { table: 'open overdue', csv: 'overdue_open', text: (r) => String(r.overdueOpen), csvValue: (r) => String(r.overdueOpen) },
  { table: 'completed late', csv: 'completed_late', text: (r) => String(r.completedLate), csvValue: (r) => String(r.completedLate) },
  { table: 'extended', csv: 'extended', text: (r) => String(r.extended), csvValue: (r) => String(r.extended) },
  { table: 'on time', csv: 'on_time_rate', text: (r) => percent(r.onTimeRate), csvValue: (r) => (r.onTimeRate === null ? '' : fixed(r.onTimeRate, 4)) },
  { table: 'median', csv: 'median_days', text: (r) => humanDuration(r.medianSeconds), csvValue: (r) => days(r.medianSeconds) },
  { table: 'p95', csv: 'p95_days', text: (r) => humanDuration(r.p95Seconds), csvValue: (r) => days(r.p95Seconds) },
  { table: 'oldest open', csv: 'oldest_open_days', text: (r) => humanDuration(r.oldestOpenAgeSeconds), csvValue: (r) => days(r.oldestOpenAgeSeconds) },
];

function days(seconds: number | null): string {
  return seconds === null ? '' : fixed(seconds / 86_400, 2);
}

/**
 * The report as an aligned table (the CLI's default), with the range above and the definitions below.
 * @example formatReportTable(report).forEach((line) => io.out(line));
 */
export function formatReportTable(report: ErasureReport): string[] {
  const cells = [columns.map((c) => c.table), ...report.rows.map((r) => columns.map((c) => c.text(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const total = report.rows[report.rows.length - 1];
  return [
    `Erasure requests received from ${report.from} to ${report.to} (excluded), as of ${report.asOf}`,
    '',
    ...cells.map(line),
    '',
    'completed: certificate issued. overdue: open past the (possibly extended) deadline, plus completed after it.',
    'on time: completed by the deadline / completed. median, p95: received to certificate (PostgreSQL percentile_cont).',
    ...(total.overdue > 0 ? [`${total.overdue} overdue request${total.overdue === 1 ? '' : 's'}: --format json lists them by id.`] : []),
  ];
}

/** One RFC 4180 field: quoted when it holds a comma, a quote or a line break. */
const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/**
 * The report as CSV (RFC 4180: CRLF line ends, a header row), one row per jurisdiction and a total row.
 * Durations in days (2 decimals), the on-time rate as a fraction (4 decimals); blank where nothing was measured.
 * @example res.type('text/csv').send(formatReportCsv(report));
 */
export function formatReportCsv(report: ErasureReport): string {
  const records = [columns.map((c) => c.csv), ...report.rows.map((r) => columns.map((c) => c.csvValue(r)))];
  return records.map((fields) => `${fields.map(csvField).join(',')}\r\n`).join('');
}

/**
 * The file name a downloaded CSV report gets, from its range.
 * @example reportFileName(report) // 'erasure-report-20261101T000000Z-20261201T000000Z.csv'
 */
export function reportFileName(report: Pick<ErasureReport, 'from' | 'to'>): string {
  const compact = (iso: string) => iso.replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `erasure-report-${compact(report.from)}-${compact(report.to)}.csv`;
}
