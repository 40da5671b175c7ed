/**
 * The report's pure rules: what a bound may be, the range's defaults and limits, and what an empty ledger
 * reports (zeros and blanks, never NaN). The figures from a real ledger are in ./report.test.ts.
 */
import assert from 'node:assert/strict';
import { UseCaseError } from '../../src/use-cases/errors';
import { buildErasureReport, fixed, formatReportCsv, formatReportTable, humanDuration, parseReportInstant, reportFileName, resolveReportRange } from '../../src/use-cases/report';

const now = new Date('2026-12-02T04:00:00.000Z');
const iso = (d: Date) => d.toISOString();

/** The UseCaseError a call throws: its kind and message. */
function failure(fn: () => unknown): { kind: string; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UseCaseError, `expected a UseCaseError, got ${String(err)}`);
    return { kind: err.kind, message: err.message };
  }
  assert.fail('expected an error');
}

describe('report: bounds and range', () => {
  it('reads a date as midnight UTC and a date-time with or without an offset', () => {
    assert.equal(iso(parseReportInstant('2026-11-01', 'from')), '2026-11-01T00:00:00.000Z');
    assert.equal(iso(parseReportInstant('2026-11-01T09:30', 'from')), '2026-11-01T09:30:00.000Z');
    assert.equal(iso(parseReportInstant('2026-11-01T09:30:15Z', 'from')), '2026-11-01T09:30:15.000Z');
    assert.equal(iso(parseReportInstant('2026-11-01T09:30:15.25+01:30', 'from')), '2026-11-01T08:00:15.250Z');
    assert.equal(iso(parseReportInstant('2026-11-01T00:00:00-05:00', 'from')), '2026-11-01T05:00:00.000Z');
    assert.equal(iso(parseReportInstant('2028-02-29', 'from')), '2028-02-29T00:00:00.000Z', 'a leap day');
  });

  it('refuses what is not a calendar date and time, naming the bound and the forms it takes', () => {
    for (const text of ['2026-02-30', '2026-13-01', '2027-02-29', '2026-11-01T24:00', '2026-11-01T10:61', '2026-11-01T10:00:60Z', '2026-11-01T10:00+15:00', 'yesterday', '2026-1-1', '2026-11-01 10:00', '']) {
      const f = failure(() => parseReportInstant(text, '--from'));
      assert.equal(f.kind, 'invalid', text);
      assert.match(f.message, /^--from ".*" (is not a date|is not a calendar date and time|has an offset outside -14:00…\+14:00):/, text);
      assert.match(f.message, /use a date \(2026-11-01\) or an ISO 8601 date-time/, text);
    }
  });

  it('defaults to the 30 days before now, and to 30 days before `to` when only `to` is given', () => {
    const all = resolveReportRange({}, now);
    assert.deepEqual([iso(all.from), iso(all.to)], ['2026-11-02T04:00:00.000Z', '2026-12-02T04:00:00.000Z']);
    const toOnly = resolveReportRange({ to: '2026-10-01' }, now);
    assert.deepEqual([iso(toOnly.from), iso(toOnly.to)], ['2026-09-01T00:00:00.000Z', '2026-10-01T00:00:00.000Z']);
    const fromOnly = resolveReportRange({ from: '2026-11-15' }, now);
    assert.deepEqual([iso(fromOnly.from), iso(fromOnly.to)], ['2026-11-15T00:00:00.000Z', '2026-12-02T04:00:00.000Z']);
    const empty = resolveReportRange({ from: '2026-11-01', to: '2026-11-01' }, now);
    assert.equal(empty.from.getTime(), empty.to.getTime(), 'an empty range is a range (with zeros)');
  });

  it('refuses `from` after `to` and a range over 5 years, with the names the caller used', () => {
    const after = failure(() => resolveReportRange({ from: '2026-12-05', to: '2026-12-01' }, now, { from: '--from', to: '--to' }));
    assert.deepEqual(after, { kind: 'invalid', message: '--from 2026-12-05 is after --to 2026-12-01: the range is [--from, --to)' });
    const future = failure(() => resolveReportRange({ from: '2027-01-01' }, now));
    assert.equal(future.message, 'from 2027-01-01 is after to now (2026-12-02T04:00:00.000Z): the range is [from, to)');

    const five = resolveReportRange({ from: '2021-12-01', to: '2026-12-01' }, now);
    assert.equal(iso(five.from), '2021-12-01T00:00:00.000Z', 'exactly 5 years is allowed');
    const tooLong = failure(() => resolveReportRange({ from: '2021-12-01', to: '2026-12-01T00:00:00.001Z' }, now));
    assert.deepEqual(tooLong, {
      kind: 'invalid',
      message: 'the range 2021-12-01T00:00:00.000Z to 2026-12-01T00:00:00.001Z is longer than 5 years: ask for several reports',
    });
  });
});

describe('report: an empty ledger', () => {
  const range = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z') };
  const report = buildErasureReport({ groups: [{ jurisdiction: null, received: 0, completed: 0, cancelled: 0, open: 0, overdueOpen: 0, completedLate: 0, extended: 0, medianSeconds: null, p95Seconds: null, oldestOpen: null }], overdue: [] }, range, now);

  it('has a zero row for every jurisdiction and the total, with null where nothing was measured', () => {
    assert.deepEqual(report.rows.map((r) => r.scope), ['GDPR', 'CCPA', 'total']);
    for (const r of report.rows) {
      assert.deepEqual(
        { ...r, scope: undefined },
        {
          scope: undefined,
          received: 0,
          completed: 0,
          cancelled: 0,
          open: 0,
          overdue: 0,
          overdueOpen: 0,
          completedLate: 0,
          onTime: 0,
          extended: 0,
          onTimeRate: null,
          medianSeconds: null,
          p95Seconds: null,
          oldestOpenAgeSeconds: null,
          oldestOpenRequestId: null,
        },
      );
    }
    assert.equal(report.overdueRequestsTruncated, false);
    assert.doesNotMatch(JSON.stringify(report), /NaN|Infinity/);
  });

  it('renders blanks in the CSV and dashes in the table, never NaN', () => {
    assert.equal(
      formatReportCsv(report),
      'scope,received,completed,cancelled,open,overdue,overdue_open,completed_late,extended,on_time_rate,median_days,p95_days,oldest_open_days\r\n' +
        'GDPR,0,0,0,0,0,0,0,0,,,,\r\n' +
        'CCPA,0,0,0,0,0,0,0,0,,,,\r\n' +
        'total,0,0,0,0,0,0,0,0,,,,\r\n',
    );
    const table = formatReportTable(report).join('\n');
    assert.doesNotMatch(table, /NaN/);
    assert.match(table, /^total +0 +0 +0 +0 +0 +0 +0 +0 +- +- +- +-$/m);
    assert.equal(reportFileName(report), 'erasure-report-20261101T000000Z-20261201T000000Z.csv');
  });

  it('shows durations in the unit that reads best', () => {
    assert.deepEqual([humanDuration(null), humanDuration(90), humanDuration(5400), humanDuration(86_400 * 12.25)], ['-', '2 min', '1.5 h', '12.3 d']);
    assert.deepEqual([fixed(6.85, 1), fixed(1.005, 2), fixed(2 / 3, 4), fixed(1e-7, 2), fixed(0, 2)], ['6.9', '1.01', '0.6667', '0.00', '0.00'], 'halves round up');
  });
});
