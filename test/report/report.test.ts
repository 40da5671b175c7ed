/**
 * The erasure report on a real ledger: requests seeded through the ledger's own functions (intake row,
 * workflow start, audit events for phases, extensions and cancellations, the certificate issuer), then the
 * figures asserted against values worked out by hand, through the use case, the CLI (in-process and as a
 * real process) and the API served in-process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSecretKey, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Pool } from 'pg';
import { createApp } from '../../src/api/app';
import { hashApiKey, parseApiKeys } from '../../src/api/auth';
import { openApiDocument } from '../../src/api/openapi';
import { routes } from '../../src/api/routes';
import { createAttestor } from '../../src/attestation';
import { createCertificateIssuer, generateSigningKey, loadKeyRing, type KeyRing } from '../../src/certificate';
import { runReport } from '../../src/cli/report';
import { DAY_MS, deadlineFor, defaultPolicies, type Jurisdiction } from '../../src/domain';
import { createActivityAudit } from '../../src/ledger/audit';
import { createRequestRepository } from '../../src/ledger/requests';
import { createMetrics } from '../../src/metrics';
import { createUseCases, type UseCaseDeps } from '../../src/use-cases';
import { erasureReport, formatReportCsv, formatReportTable, type ReportRow } from '../../src/use-cases/report';
import { certificateRequest } from '../certificate/fixtures';
import { captureIo } from '../harness/cli-io';
import { useLedgerDatabase } from '../harness/ledger';
import { capturingLogger } from '../harness/logs';

const attestor = createAttestor(createSecretKey(randomBytes(32)));
const DAY = DAY_MS / 1000;

/** One request's life as the seed writes it. */
interface Seed {
  id: string;
  jurisdiction: Jurisdiction;
  received: string;
  /** Default: the jurisdiction's deadline from `received`. */
  deadline?: string;
  /** An accepted extension moving the deadline here. */
  extendTo?: string;
  certifiedAt?: string;
  cancelled?: boolean;
}

/** Writes a request the way the engine does: intake, workflow start, audit events, certificate issuer. */
async function seed(pool: Pool, keys: KeyRing, s: Seed): Promise<void> {
  const requests = createRequestRepository(pool);
  const audit = createActivityAudit({ pool, requests, attestor });
  const receivedAt = new Date(s.received);
  let deadline = s.deadline ?? new Date(deadlineFor(receivedAt.getTime(), defaultPolicies[s.jurisdiction])).toISOString();
  const created = await requests.insertQueued({
    requestId: s.id,
    workflowId: `erasure-${s.id}`,
    subjectRef: `subj_${s.id}`,
    jurisdiction: s.jurisdiction,
    bodyHash: `hash-${s.id}`,
    receivedAt,
    deadline: new Date(deadline),
    pendingInput: { metadata: { encoding: 'YmluYXJ5L2VuY3J5cHRlZA' }, data: 'AAAA' },
    receivedDetail: { subjectRef: `subj_${s.id}`, jurisdiction: s.jurisdiction, source: null },
  });
  assert.equal(created.kind, 'created');
  await requests.markStarted(s.id);
  await audit.recordEvent({ requestId: s.id, type: 'phase.erasing' });
  if (s.extendTo) {
    await audit.recordEvent({ requestId: s.id, type: 'deadline.extended', detail: { deadline: s.extendTo, days: 30, reason: 'complex request' } });
    deadline = s.extendTo;
  }
  if (s.cancelled) await audit.recordEvent({ requestId: s.id, type: 'phase.cancelled' });
  if (s.certifiedAt) {
    const issuer = createCertificateIssuer({ pool, keys, now: () => new Date(s.certifiedAt!) });
    await issuer.issue(
      certificateRequest(1, {
        requestId: s.id,
        workflowId: `erasure-${s.id}`,
        jurisdiction: s.jurisdiction,
        receivedAt: receivedAt.toISOString(),
        deadline,
        extended: s.extendTo !== undefined,
        completedAt: s.certifiedAt,
      }),
    );
    await audit.recordEvent({ requestId: s.id, type: 'phase.completed' });
  }
}

/** The main cohort: November 2026, read on 10 December. */
const november = { from: '2026-11-01', to: '2026-12-01' };
const asOf = new Date('2026-12-10T00:00:00.000Z');
const novemberSeeds: Seed[] = [
  // GDPR (30 days): on time in 10 d, late in 32 d, extended by 30 d then on time in 34 d, cancelled, open, open past its deadline.
  { id: 'g-on-time', jurisdiction: 'GDPR', received: '2026-11-02T00:00:00Z', certifiedAt: '2026-11-12T00:00:00Z' },
  { id: 'g-late', jurisdiction: 'GDPR', received: '2026-11-03T00:00:00Z', certifiedAt: '2026-12-05T00:00:00Z' },
  { id: 'g-extended', jurisdiction: 'GDPR', received: '2026-11-04T00:00:00Z', extendTo: '2027-01-03T00:00:00.000Z', certifiedAt: '2026-12-08T00:00:00Z' },
  { id: 'g-cancelled', jurisdiction: 'GDPR', received: '2026-11-05T00:00:00Z', cancelled: true },
  { id: 'g-open', jurisdiction: 'GDPR', received: '2026-11-20T00:00:00Z' },
  { id: 'g-open-overdue', jurisdiction: 'GDPR', received: '2026-11-06T00:00:00Z' },
  // CCPA (45 days): certified exactly at its deadline (on time), in 5.5 d and in 2 d; one open, not overdue.
  { id: 'c-at-deadline', jurisdiction: 'CCPA', received: '2026-11-01T00:00:00Z', deadline: '2026-11-08T00:00:00.000Z', certifiedAt: '2026-11-08T00:00:00Z' },
  { id: 'c-on-time', jurisdiction: 'CCPA', received: '2026-11-10T00:00:00Z', certifiedAt: '2026-11-15T12:00:00Z' },
  { id: 'c-quick', jurisdiction: 'CCPA', received: '2026-11-11T00:00:00Z', certifiedAt: '2026-11-13T00:00:00Z' },
  { id: 'c-open', jurisdiction: 'CCPA', received: '2026-11-30T12:00:00Z' },
  // Outside [from, to): the last millisecond before it (open and overdue), and `to` itself (late).
  { id: 'g-before', jurisdiction: 'GDPR', received: '2026-10-31T23:59:59.999Z' },
  { id: 'g-at-to', jurisdiction: 'GDPR', received: '2026-12-01T00:00:00Z', deadline: '2026-12-02T00:00:00.000Z', certifiedAt: '2026-12-03T00:00:00Z' },
];

const row = (r: Partial<ReportRow> & Pick<ReportRow, 'scope'>): ReportRow => ({
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
  ...r,
});

/**
 * Worked out by hand. Times to certificate: GDPR 10, 32, 34 d; CCPA 2, 5.5, 7 d. percentile_cont at p over
 * n sorted values interpolates at position p·(n−1): GDPR median 32 d, p95 32 + 0.9·2 = 33.8 d; CCPA median
 * 5.5 d, p95 5.5 + 0.9·1.5 = 6.85 d; all six: median (7 + 10)/2 = 8.5 d, p95 at 4.75 = 32 + 0.75·2 = 33.5 d.
 * Oldest open on 10 December: g-open-overdue (6 November) 34 d; c-open (30 November, noon) 9.5 d.
 */
const novemberRows: ReportRow[] = [
  row({
    scope: 'GDPR',
    received: 6,
    completed: 3,
    cancelled: 1,
    open: 2,
    overdue: 2,
    overdueOpen: 1,
    completedLate: 1,
    onTime: 2,
    extended: 1,
    onTimeRate: 2 / 3,
    medianSeconds: 32 * DAY,
    p95Seconds: 33.8 * DAY,
    oldestOpenAgeSeconds: 34 * DAY,
    oldestOpenRequestId: 'g-open-overdue',
  }),
  row({ scope: 'CCPA', received: 4, completed: 3, open: 1, onTime: 3, onTimeRate: 1, medianSeconds: 5.5 * DAY, p95Seconds: 6.85 * DAY, oldestOpenAgeSeconds: 9.5 * DAY, oldestOpenRequestId: 'c-open' }),
  row({
    scope: 'total',
    received: 10,
    completed: 6,
    cancelled: 1,
    open: 3,
    overdue: 2,
    overdueOpen: 1,
    completedLate: 1,
    onTime: 5,
    extended: 1,
    onTimeRate: 5 / 6,
    medianSeconds: 8.5 * DAY,
    p95Seconds: 33.5 * DAY,
    oldestOpenAgeSeconds: 34 * DAY,
    oldestOpenRequestId: 'g-open-overdue',
  }),
];

const novemberCsv =
  'scope,received,completed,cancelled,open,overdue,overdue_open,completed_late,extended,on_time_rate,median_days,p95_days,oldest_open_days\r\n' +
  'GDPR,6,3,1,2,2,1,1,1,0.6667,32.00,33.80,34.00\r\n' +
  'CCPA,4,3,0,1,0,0,0,0,1.0000,5.50,6.85,9.50\r\n' +
  'total,10,6,1,3,2,1,1,1,0.8333,8.50,33.50,34.00\r\n';

describe('erasure report on a real ledger', function () {
  const ledger = useLedgerDatabase();
  let pool: Pool;
  let url: string;

  before(async () => {
    ({ pool, url } = await ledger.fresh({ max: 5 }));
    const keys = await loadKeyRing(pool, generateSigningKey());
    for (const s of novemberSeeds) await seed(pool, keys, s);
  });

  it('counts, rates and percentiles per jurisdiction and in total, as worked out by hand', async () => {
    const report = await erasureReport({ requests: createRequestRepository(pool), now: () => asOf }, november);
    assert.equal(report.from, '2026-11-01T00:00:00.000Z');
    assert.equal(report.to, '2026-12-01T00:00:00.000Z');
    assert.equal(report.asOf, asOf.toISOString());
    assert.equal(report.rows.length, 3);
    for (const [i, expected] of novemberRows.entries()) {
      const got = report.rows[i];
      for (const key of ['onTimeRate', 'medianSeconds', 'p95Seconds', 'oldestOpenAgeSeconds'] as const) {
        assert.ok(Math.abs((got[key] ?? NaN) - (expected[key] ?? NaN)) < 1e-6, `${expected.scope} ${key}: ${got[key]} ≠ ${expected[key]}`);
      }
      assert.deepEqual({ ...got, onTimeRate: 0, medianSeconds: 0, p95Seconds: 0, oldestOpenAgeSeconds: 0 }, { ...expected, onTimeRate: 0, medianSeconds: 0, p95Seconds: 0, oldestOpenAgeSeconds: 0 });
    }
    assert.deepEqual(report.overdueRequests, [
      { requestId: 'g-late', jurisdiction: 'GDPR', kind: 'late', receivedAt: '2026-11-03T00:00:00.000Z', deadline: '2026-12-03T00:00:00.000Z', certifiedAt: '2026-12-05T00:00:00.000Z' },
      { requestId: 'g-open-overdue', jurisdiction: 'GDPR', kind: 'open', receivedAt: '2026-11-06T00:00:00.000Z', deadline: '2026-12-06T00:00:00.000Z', certifiedAt: null },
    ]);
    assert.equal(report.overdueRequestsTruncated, false);
    assert.doesNotMatch(JSON.stringify(report), /subj_|hash-|@/, 'no subject reference, body hash or identifier in the report');
  });

  it('judges open requests overdue against the report date, not the day they were received', async () => {
    const early = await erasureReport({ requests: createRequestRepository(pool), now: () => new Date('2026-12-04T00:00:00Z') }, november);
    const gdpr = early.rows[0];
    // On 4 December g-open-overdue (deadline 6 December) is still in time, g-late not yet certified (so open and overdue).
    assert.deepEqual([gdpr.completed, gdpr.open, gdpr.overdueOpen, gdpr.completedLate], [3, 2, 0, 1], 'certificates issued later still count: outcomes are as the ledger holds them');
  });

  it('gives zeros and blanks for a range nobody wrote in', async () => {
    const report = await erasureReport({ requests: createRequestRepository(pool), now: () => asOf }, { from: '2025-01-01', to: '2025-02-01' });
    assert.deepEqual(report.rows, [row({ scope: 'GDPR' }), row({ scope: 'CCPA' }), row({ scope: 'total' })]);
    assert.equal(formatReportCsv(report).split('\r\n')[3], 'total,0,0,0,0,0,0,0,0,,,,');
  });

  it('prints the table, the CSV byte for byte and the JSON from the CLI, reading DATABASE_URL', async () => {
    const csv = captureIo({ DATABASE_URL: url });
    assert.equal(await runReport({ ...november, format: 'csv', now: () => asOf }, csv.io), 0, csv.err.join('\n'));
    assert.equal(csv.out.map((l) => `${l}\n`).join(''), novemberCsv, 'RFC 4180: CRLF after every record');
    assert.deepEqual(csv.err, []);

    const table = captureIo({ DATABASE_URL: url });
    assert.equal(await runReport({ ...november, now: () => asOf }, table.io), 0);
    // CCPA's p95 of 6.85 d shows as 6.9 d: halves round up.
    assert.deepEqual(table.out.slice(0, 6), [
      'Erasure requests received from 2026-11-01T00:00:00.000Z to 2026-12-01T00:00:00.000Z (excluded), as of 2026-12-10T00:00:00.000Z',
      '',
      'scope  received  completed  cancelled  open  overdue  open overdue  completed late  extended  on time  median     p95  oldest open',
      'GDPR          6          3          1     2        2             1               1         1    66.7%  32.0 d  33.8 d       34.0 d',
      'CCPA          4          3          0     1        0             0               0         0   100.0%   5.5 d   6.9 d        9.5 d',
      'total        10          6          1     3        2             1               1         1    83.3%   8.5 d  33.5 d       34.0 d',
    ]);
    assert.equal(table.out.at(-1), '2 overdue requests: --format json lists them by id.');

    const json = captureIo({ DATABASE_URL: url });
    assert.equal(await runReport({ ...november, format: 'json', now: () => asOf }, json.io), 0);
    const parsed = JSON.parse(json.out.join('\n'));
    assert.deepEqual(parsed, JSON.parse(JSON.stringify(await erasureReport({ requests: createRequestRepository(pool), now: () => asOf }, november))));
    assert.deepEqual(formatReportTable(parsed).slice(2, 6), table.out.slice(2, 6));
  });

  it('ends the CLI with exit 2 and a message for bad options, 1 when the ledger cannot be read', async () => {
    const cases: Array<[Parameters<typeof runReport>[0], NodeJS.ProcessEnv, number, RegExp]> = [
      [{ from: '2026-12-05', to: '2026-12-01' }, { DATABASE_URL: url }, 2, /^erasure report: --from 2026-12-05 is after --to 2026-12-01: the range is \[--from, --to\)$/],
      [{ from: '2026-02-30' }, { DATABASE_URL: url }, 2, /^erasure report: --from "2026-02-30" is not a calendar date and time: use a date/],
      [{ to: 'last tuesday' }, { DATABASE_URL: url }, 2, /^erasure report: --to "last tuesday" is not a date: use a date/],
      [{ from: '2020-01-01', to: '2026-01-01' }, { DATABASE_URL: url }, 2, /^erasure report: the range 2020-01-01T00:00:00.000Z to 2026-01-01T00:00:00.000Z is longer than 5 years/],
      [{ format: 'xml' }, { DATABASE_URL: url }, 2, /^erasure report: --format must be one of table, csv, json \(got "xml"\)$/],
      [{}, {}, 2, /^erasure report: no ledger database: set DATABASE_URL or pass --database-url$/],
      [{}, { DATABASE_URL: 'not a url' }, 2, /DATABASE_URL/],
      [{ databaseUrl: 'postgres://erasure@127.0.0.1:1/nowhere' }, {}, 1, /^erasure report: cannot read the ledger for the report: /],
    ];
    for (const [opts, env, code, message] of cases) {
      const c = captureIo(env);
      assert.equal(await runReport(opts, c.io), code, `${JSON.stringify(opts)}: ${c.err.join('\n')}`);
      assert.equal(c.code(), code);
      assert.equal(c.err.length, 1, c.err.join('\n'));
      assert.match(c.err[0], message);
      assert.deepEqual(c.out, [], 'nothing on stdout when the report failed');
    }
  });

  it('runs as `erasure report` in a process of its own, with real exit codes', async function () {
    this.timeout(120_000);
    const bin = path.resolve(__dirname, '../../bin/erasure.js');
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, [bin, 'report', ...args], { env: { PATH: process.env.PATH, DATABASE_URL: url } }, (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const [ok, bad] = await Promise.all([run(['--from', '2026-11-01', '--to', '2026-12-01', '--format', 'json']), run(['--from', '2026-12-05', '--to', '2026-12-01'])]);
    assert.equal(ok.code, 0, ok.stderr);
    const report = JSON.parse(ok.stdout);
    assert.deepEqual(
      report.rows.map((r: ReportRow) => [r.scope, r.received, r.completed, r.cancelled]),
      [
        ['GDPR', 6, 3, 1],
        ['CCPA', 4, 3, 0],
        ['total', 10, 6, 1],
      ],
    );
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, 'erasure report: --from 2026-12-05 is after --to 2026-12-01: the range is [--from, --to)\n');
  });
});

describe('GET /reports/erasures (served in-process on a real ledger)', function () {
  const ledger = useLedgerDatabase();
  const readKey = 'report-read-key-0123456789';
  const operatorKey = 'report-operator-key-0123456789';
  let server: Server;
  let base: string;
  const logs = capturingLogger();

  before(async () => {
    const { pool } = await ledger.fresh({ max: 5 });
    const keys = await loadKeyRing(pool, generateSigningKey());
    // June 2026, every request closed, so nothing depends on the day the test runs.
    const june: Seed[] = [
      { id: 'j-g-quick', jurisdiction: 'GDPR', received: '2026-06-02T00:00:00Z', certifiedAt: '2026-06-05T00:00:00Z' },
      { id: 'j-g-late', jurisdiction: 'GDPR', received: '2026-06-10T00:00:00Z', certifiedAt: '2026-07-11T00:00:00Z' },
      { id: 'j-c-at-deadline', jurisdiction: 'CCPA', received: '2026-06-15T00:00:00Z', certifiedAt: '2026-07-30T00:00:00Z' },
      { id: 'j-c-cancelled', jurisdiction: 'CCPA', received: '2026-06-20T00:00:00Z', cancelled: true },
      { id: 'j-outside', jurisdiction: 'GDPR', received: '2026-07-01T00:00:00Z', cancelled: true },
    ];
    for (const s of june) await seed(pool, keys, s);
    const deps = { requests: createRequestRepository(pool), logger: logs.logger, metrics: createMetrics() } as unknown as UseCaseDeps; // the report reads only the ledger's requests
    const apiKeys = parseApiKeys(`reader:read:${hashApiKey(readKey)};ops:operator:${hashApiKey(operatorKey)}`);
    const app = createApp({ useCases: createUseCases(deps), apiKeys, logger: logs.logger, metrics: deps.metrics });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  const get = async (query: string, key: string | null = readKey) => {
    const res = await fetch(`${base}/reports/erasures${query}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
  };

  it('answers the CSV as a download, byte for byte', async () => {
    const res = await get('?from=2026-06-01&to=2026-07-01&format=csv');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="erasure-report-20260601T000000Z-20260701T000000Z.csv"');
    // By hand: GDPR 3 d and 31 d (one day late): median 17, p95 3 + 0.95·28 = 29.6; CCPA 45 d, exactly at its
    // deadline; all three: median 31, p95 at 1.9 = 31 + 0.9·14 = 43.6.
    assert.equal(
      res.text,
      'scope,received,completed,cancelled,open,overdue,overdue_open,completed_late,extended,on_time_rate,median_days,p95_days,oldest_open_days\r\n' +
        'GDPR,2,2,0,0,1,0,1,0,0.5000,17.00,29.60,\r\n' +
        'CCPA,2,1,1,0,0,0,0,0,1.0000,45.00,45.00,\r\n' +
        'total,4,3,1,0,1,0,1,0,0.6667,31.00,43.60,\r\n',
    );
  });

  it('answers JSON by default, with the overdue request by id', async () => {
    const res = await get('?from=2026-06-01T00:00:00Z&to=2026-07-01T00:00:00%2B00:00');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.from, '2026-06-01T00:00:00.000Z');
    assert.equal(res.json.to, '2026-07-01T00:00:00.000Z');
    assert.deepEqual(
      res.json.rows.map((r: ReportRow) => [r.scope, r.received, r.completed, r.cancelled, r.overdue, r.onTimeRate]),
      [
        ['GDPR', 2, 2, 0, 1, 0.5],
        ['CCPA', 2, 1, 1, 0, 1],
        ['total', 4, 3, 1, 1, 2 / 3],
      ],
    );
    assert.equal(res.json.rows[2].medianSeconds, 31 * DAY);
    assert.deepEqual(res.json.overdueRequests.map((o: { requestId: string; kind: string }) => `${o.requestId} ${o.kind}`), ['j-g-late late']);
  });

  it('answers 400 with a message for bad dates, a reversed or too long range and unknown parameters', async () => {
    const cases: Array<[string, RegExp]> = [
      ['?from=2026-12-05&to=2026-12-01', /^from 2026-12-05 is after to 2026-12-01: the range is \[from, to\)$/],
      ['?from=2026-02-30&to=2026-03-10', /^from "2026-02-30" is not a calendar date and time: use a date/],
      ['?from=yesterday', /^invalid request query: query\.from: must be a date \(2026-11-01\) or an ISO 8601 date-time/],
      ['?from=2020-01-01&to=2026-01-01', /is longer than 5 years: ask for several reports$/],
      ['?format=xml', /^invalid request query: query\.format: /],
      ['?since=2026-01-01', /^invalid request query: /],
    ];
    for (const [query, detail] of cases) {
      const res = await get(query);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.match(res.json.detail, detail, query);
      const extra = Object.keys(res.json).filter((k) => !['type', 'title', 'status', 'detail', 'requestId', 'errors'].includes(k));
      assert.deepEqual(extra, [], `${query}: the problem document holds only what its schema allows`);
    }
  });

  it('asks for a key with the read scope', async () => {
    assert.equal((await get('', null)).status, 401);
    assert.equal((await get('', operatorKey)).status, 403);
    assert.equal((await get('')).status, 200, 'the default range, the last 30 days');
  });

  it('is described in /openapi.json with its query and both media types', () => {
    const doc = openApiDocument(routes) as { paths: Record<string, Record<string, { parameters: Array<{ name: string; schema: { pattern?: string; enum?: string[] } }>; responses: Record<string, { content?: Record<string, unknown> }> }>> };
    const op = doc.paths['/reports/erasures'].get;
    assert.deepEqual(op.parameters.map((p) => p.name), ['from', 'to', 'format']);
    assert.ok(op.parameters[0].schema.pattern, 'from carries its pattern');
    assert.deepEqual(op.parameters[2].schema.enum, ['json', 'csv']);
    assert.deepEqual(Object.keys(op.responses['200'].content ?? {}), ['application/json', 'text/csv']);
    assert.ok(op.responses['400'] && op.responses['401'] && op.responses['403']);
  });
});
