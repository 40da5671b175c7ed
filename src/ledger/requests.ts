/**
 * The `requests` table: one row per erasure request, from intake to certificate. This repository and
 * ./events.ts are the only places that write SQL for the ledger's requests and events; everything else
 * (intake, relay, API, activities, shredder, issuer) goes through these methods.
 * A row never holds identifiers: the subject appears as a keyed hash, and the queued workflow input is
 * encrypted by the engine's payload codec.
 */
import { auditEventTypes, finalPhases, type Jurisdiction, type LedgerStatus, type Phase } from '../domain';
import { inTransaction, type Pool, type Queryable } from './db';

/** A request as the ledger holds it (no identifiers). */
export interface RequestRecord {
  requestId: string;
  workflowId: string;
  subjectRef: string;
  jurisdiction: Jurisdiction;
  /** `queued` until the workflow starts, then the workflow's phase. */
  status: LedgerStatus;
  receivedAt: string;
  /** The legal deadline, moved by an accepted extension. */
  deadline: string;
  workflowStartedAt: string | null;
  completedAt: string | null;
  certificateId: string | null;
}

/** The workflow input while it waits in the ledger: a Temporal payload (encrypted), base64 fields. */
export interface PendingInput {
  metadata: Record<string, string>;
  data: string;
}

/** What the intake writes for a new request. */
export interface NewRequest {
  requestId: string;
  workflowId: string;
  subjectRef: string;
  jurisdiction: Jurisdiction;
  /** Keyed fingerprint of the body: tells "same key, same body" from "same key, different body". */
  bodyHash: string;
  receivedAt: Date;
  deadline: Date;
  pendingInput: PendingInput;
  /** Detail of the `received` audit event written with the row (no identifiers). */
  receivedDetail: Record<string, unknown>;
}

export type InsertOutcome = { kind: 'created' | 'existing' | 'conflict'; record: RequestRecord };

/** Open requests per status and how many of them are past their deadline. */
export interface OpenCounts {
  byStatus: Record<string, number>;
  overdue: number;
}

interface RequestRow {
  request_id: string;
  workflow_id: string;
  subject_ref: string;
  jurisdiction: Jurisdiction;
  status: LedgerStatus;
  body_hash: string;
  received_at: Date;
  deadline: Date;
  workflow_started_at: Date | null;
  completed_at: Date | null;
  certificate_id: string | null;
}

const columns = 'request_id, workflow_id, subject_ref, jurisdiction, status, body_hash, received_at, deadline, workflow_started_at, completed_at, certificate_id';

/** A group of the report as PostgreSQL answers it (counts and percentiles arrive as text). */
interface ReportGroupRow {
  jurisdiction: Jurisdiction | null;
  received: string;
  completed: string;
  cancelled: string;
  open: string;
  overdue_open: string;
  completed_late: string;
  extended: string;
  median_s: string | number | null;
  p95_s: string | number | null;
  oldest_open_id: string | null;
  oldest_open_at: Date | null;
}

function toRecord(r: RequestRow): RequestRecord {
  return {
    requestId: r.request_id,
    workflowId: r.workflow_id,
    subjectRef: r.subject_ref,
    jurisdiction: r.jurisdiction,
    status: r.status,
    receivedAt: r.received_at.toISOString(),
    deadline: r.deadline.toISOString(),
    workflowStartedAt: r.workflow_started_at?.toISOString() ?? null,
    completedAt: r.completed_at?.toISOString() ?? null,
    certificateId: r.certificate_id,
  };
}

export interface RequestRepository {
  /** Records a new request as `queued` with its `received` event, in one statement; an existing id is returned as it is. */
  insertQueued(req: NewRequest): Promise<InsertOutcome>;
  /** Pass a transaction's client as `db` to read inside it. */
  find(requestId: string, db?: Queryable): Promise<RequestRecord | undefined>;
  /** The workflow holds the input now: drop it from the ledger and leave `queued`. Resolves to the updated request (undefined: no such request). */
  markStarted(requestId: string): Promise<RequestRecord | undefined>;
  /** Claims up to `batch` queued requests for `leaseSeconds` (skipping rows another relay holds) and returns their inputs. */
  claimQueued(opts: { batch: number; leaseSeconds: number }): Promise<Array<{ requestId: string; pendingInput: PendingInput }>>;
  /** Gives claimed requests back, to be claimed again in `retryInSeconds`. */
  releaseClaims(requestIds: string[], retryInSeconds?: number): Promise<void>;
  /** The workflow entered `phase`; a final phase also stamps the completion time (once). */
  recordPhase(requestId: string, phase: Phase, db?: Queryable): Promise<void>;
  /** Moves the deadline (an accepted extension). Idempotent; resolves true when the row changed. */
  extendDeadline(requestId: string, deadline: Date, db?: Queryable): Promise<boolean>;
  /** Links the issued certificate; takes the issuer's transaction client so it commits with the certificate. */
  linkCertificate(db: Queryable, link: { requestId: string; certificateId: string; completedAt: string }): Promise<void>;
  /** Requests not completed or cancelled, per status, and how many are past their (possibly extended) deadline. */
  countOpen(): Promise<OpenCounts>;
  /** A certificate id some request links to that the certificate ledger does not hold (it was deleted). */
  danglingCertificateLink(): Promise<string | undefined>;
  /**
   * Certificates for a request id the ledger has no request of (issued for a workflow started by hand
   * before the issuer checked, or a request row removed since), by sequence; `ledger check` reports them.
   */
  certificatesWithoutRequest(limit?: number): Promise<CertificateWithoutRequest[]>;
  /**
   * Requests whose data key may go once their workflow has closed (certified, or cancelled) and whose key
   * is not destroyed yet, by request id after `after`: the shredder pages through them, so rows it must
   * postpone never hide the rest.
   */
  shreddable(opts: { after?: string; limit: number }): Promise<ShreddableRequest[]>;
  /**
   * The compliance report's figures (src/use-cases/report.ts) for the requests received in [from, to), each
   * one's outcome as the ledger stands at `asOf`, in one consistent snapshot; up to `overdueLimit` overdue ones.
   */
  reportFigures(range: { from: Date; to: Date; asOf: Date; overdueLimit: number }): Promise<ReportFigures>;
}

/**
 * Counts and durations (seconds) of one group of requests: a jurisdiction, or all of them (`jurisdiction`
 * null). Completed means a certificate was issued; cancelled, withdrawn without one; open, everything else.
 */
export interface ReportGroupFigures {
  jurisdiction: Jurisdiction | null;
  received: number;
  completed: number;
  cancelled: number;
  open: number;
  /** Open, and the (possibly extended) deadline passed before `asOf`. */
  overdueOpen: number;
  /** Certificate issued after the (possibly extended) deadline. */
  completedLate: number;
  /** Requests whose trail holds an accepted extension (`deadline.extended`). */
  extended: number;
  /** Received → certificate, over the completed ones: percentile_cont(0.5) and (0.95); null when none completed. */
  medianSeconds: number | null;
  p95Seconds: number | null;
  oldestOpen: { requestId: string; receivedAt: string } | null;
}

/** One overdue request of the report: still open past its deadline, or certified after it. */
export interface ReportOverdueRequest {
  requestId: string;
  jurisdiction: Jurisdiction;
  kind: 'open' | 'late';
  receivedAt: string;
  deadline: string;
  certifiedAt: string | null;
}

export interface ReportFigures {
  /** One entry per jurisdiction that received requests in the range, then the total (jurisdiction null). */
  groups: ReportGroupFigures[];
  /** Overdue requests by deadline, at most `overdueLimit` of them. */
  overdue: ReportOverdueRequest[];
}

/** A certificate whose request the ledger never received. */
export interface CertificateWithoutRequest {
  sequence: number;
  certificateId: string;
  requestId: string;
}

/** A request the shredder may destroy the key of, once Temporal says its workflow is closed. */
export interface ShreddableRequest {
  requestId: string;
  workflowId: string;
  /** Null for a cancelled request (it never gets one). */
  certificateId: string | null;
}

/** The channel a queued request is announced on when its row commits (src/intake/relay.ts listens). */
export const INTAKE_CHANNEL = 'erasure_intake';

/**
 * The ledger's requests, on `pool`.
 * @example const requests = createRequestRepository(pool); const record = await requests.find('req-1');
 */
export function createRequestRepository(pool: Pool): RequestRepository {
  const find = async (requestId: string, db: Queryable = pool) =>
    (await db.query<RequestRow>(`SELECT ${columns} FROM requests WHERE request_id = $1`, [requestId])).rows[0];

  return {
    async insertQueued(req) {
      // The request and its `received` event commit together or not at all.
      const inserted = await pool.query<RequestRow>(
        `WITH ins AS (
           INSERT INTO requests (request_id, workflow_id, subject_ref, jurisdiction, status, body_hash, received_at, deadline, pending_input)
           VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8)
           ON CONFLICT (request_id) DO NOTHING
           RETURNING ${columns}
         ), received AS (
           INSERT INTO events (request_id, type, detail) SELECT request_id, $9, $10::jsonb FROM ins
         )
         -- Committed with the row: the intake relays (every API process) wake and start its workflow.
         SELECT ins.*, pg_notify('${INTAKE_CHANNEL}', '') AS woken FROM ins`,
        [
          req.requestId,
          req.workflowId,
          req.subjectRef,
          req.jurisdiction,
          req.bodyHash,
          req.receivedAt,
          req.deadline,
          JSON.stringify(req.pendingInput),
          auditEventTypes.received,
          JSON.stringify(req.receivedDetail),
        ],
      );
      if (inserted.rows[0]) return { kind: 'created', record: toRecord(inserted.rows[0]) };
      const existing = await find(req.requestId);
      if (!existing) throw new Error(`request ${req.requestId} conflicted on insert but cannot be read back`);
      return { kind: existing.body_hash === req.bodyHash ? 'existing' : 'conflict', record: toRecord(existing) };
    },

    async find(requestId, db = pool) {
      const row = await find(requestId, db);
      return row ? toRecord(row) : undefined;
    },

    async markStarted(requestId) {
      const { rows } = await pool.query<RequestRow>(
        `UPDATE requests SET workflow_started_at = now(), pending_input = NULL, status = CASE WHEN status = 'queued' THEN 'accepted' ELSE status END
         WHERE request_id = $1
         RETURNING ${columns}`,
        [requestId],
      );
      return rows[0] ? toRecord(rows[0]) : undefined;
    },

    async claimQueued({ batch, leaseSeconds }) {
      const { rows } = await pool.query<{ request_id: string; pending_input: PendingInput }>(
        `UPDATE requests SET relay_claimed_until = now() + make_interval(secs => $2)
         WHERE request_id IN (
           SELECT request_id FROM requests
           WHERE workflow_started_at IS NULL AND pending_input IS NOT NULL
             AND (relay_claimed_until IS NULL OR relay_claimed_until < now())
           ORDER BY received_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING request_id, pending_input`,
        [batch, leaseSeconds],
      );
      return rows.map((r) => ({ requestId: r.request_id, pendingInput: r.pending_input }));
    },

    async releaseClaims(requestIds, retryInSeconds = 5) {
      if (requestIds.length === 0) return;
      await pool.query(`UPDATE requests SET relay_claimed_until = now() + make_interval(secs => $2) WHERE request_id = ANY($1)`, [requestIds, retryInSeconds]);
    },

    async recordPhase(requestId, phase, db = pool) {
      await db.query(
        `UPDATE requests SET status = $2, completed_at = CASE WHEN $2 = ANY($3::text[]) THEN COALESCE(completed_at, now()) ELSE completed_at END
         WHERE request_id = $1`,
        [requestId, phase, finalPhases],
      );
    },

    async extendDeadline(requestId, deadline, db = pool) {
      const { rowCount } = await db.query('UPDATE requests SET deadline = $2 WHERE request_id = $1 AND deadline IS DISTINCT FROM $2', [requestId, deadline]);
      return (rowCount ?? 0) > 0;
    },

    async linkCertificate(db, link) {
      await db.query('UPDATE requests SET certificate_id = $2, completed_at = COALESCE(completed_at, $3) WHERE request_id = $1', [link.requestId, link.certificateId, link.completedAt]);
    },

    async countOpen() {
      const { rows } = await pool.query<{ status: LedgerStatus; n: string; overdue: string }>(
        `SELECT status, count(*) AS n, count(*) FILTER (WHERE deadline < now()) AS overdue
         FROM requests WHERE status <> ALL($1::text[]) GROUP BY status`,
        [finalPhases],
      );
      return {
        byStatus: Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])),
        overdue: rows.reduce((sum, r) => sum + Number(r.overdue), 0),
      };
    },

    async shreddable({ after, limit }) {
      const { rows } = await pool.query<{ request_id: string; workflow_id: string; certificate_id: string | null }>(
        `SELECT r.request_id, r.workflow_id, r.certificate_id FROM requests r
         WHERE (r.certificate_id IS NOT NULL OR r.status = 'cancelled')
           AND ($1::text IS NULL OR r.request_id > $1)
           AND NOT EXISTS (SELECT 1 FROM destroyed_data_keys d WHERE d.request_id = r.request_id)
         ORDER BY r.request_id LIMIT $2`,
        [after ?? null, limit],
      );
      return rows.map((r) => ({ requestId: r.request_id, workflowId: r.workflow_id, certificateId: r.certificate_id }));
    },

    async reportFigures({ from, to, asOf, overdueLimit }) {
      // Every figure is read from one snapshot, so the counts and the overdue list agree with each other.
      return inTransaction(pool, async (c) => {
        await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        const cohort = `
          WITH cohort AS (
            SELECT r.request_id, r.jurisdiction, r.received_at, r.deadline, c.issued_at AS certified_at,
                   CASE WHEN c.issued_at IS NOT NULL THEN 'completed' WHEN r.status = 'cancelled' THEN 'cancelled' ELSE 'open' END AS outcome,
                   EXISTS (SELECT 1 FROM events e WHERE e.request_id = r.request_id AND e.type = $4) AS extended
              FROM requests r LEFT JOIN certificates c ON c.request_id = r.request_id
             WHERE r.received_at >= $1 AND r.received_at < $2
          )`;
        const groups = await c.query<ReportGroupRow>(
          `${cohort}
           SELECT CASE WHEN GROUPING(jurisdiction) = 1 THEN NULL ELSE jurisdiction END AS jurisdiction,
                  count(*) AS received,
                  count(*) FILTER (WHERE outcome = 'completed') AS completed,
                  count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled,
                  count(*) FILTER (WHERE outcome = 'open') AS open,
                  count(*) FILTER (WHERE outcome = 'open' AND deadline < $3) AS overdue_open,
                  count(*) FILTER (WHERE outcome = 'completed' AND certified_at > deadline) AS completed_late,
                  count(*) FILTER (WHERE extended) AS extended,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM certified_at - received_at)::float8) FILTER (WHERE outcome = 'completed') AS median_s,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM certified_at - received_at)::float8) FILTER (WHERE outcome = 'completed') AS p95_s,
                  (array_agg(request_id ORDER BY received_at, request_id) FILTER (WHERE outcome = 'open'))[1] AS oldest_open_id,
                  min(received_at) FILTER (WHERE outcome = 'open') AS oldest_open_at
             FROM cohort
            GROUP BY GROUPING SETS ((jurisdiction), ())
            ORDER BY GROUPING(jurisdiction), jurisdiction`,
          [from, to, asOf, auditEventTypes.deadlineExtended],
        );
        const overdue = await c.query<{ request_id: string; jurisdiction: Jurisdiction; outcome: string; received_at: Date; deadline: Date; certified_at: Date | null }>(
          `${cohort}
           SELECT request_id, jurisdiction, outcome, received_at, deadline, certified_at FROM cohort
            WHERE (outcome = 'open' AND deadline < $3) OR (outcome = 'completed' AND certified_at > deadline)
            ORDER BY deadline, request_id LIMIT $5`,
          [from, to, asOf, auditEventTypes.deadlineExtended, overdueLimit],
        );
        const num = (v: string | number | null) => (v === null ? null : Number(v));
        return {
          groups: groups.rows.map((g) => ({
            jurisdiction: g.jurisdiction,
            received: Number(g.received),
            completed: Number(g.completed),
            cancelled: Number(g.cancelled),
            open: Number(g.open),
            overdueOpen: Number(g.overdue_open),
            completedLate: Number(g.completed_late),
            extended: Number(g.extended),
            medianSeconds: num(g.median_s),
            p95Seconds: num(g.p95_s),
            oldestOpen: g.oldest_open_id && g.oldest_open_at ? { requestId: g.oldest_open_id, receivedAt: g.oldest_open_at.toISOString() } : null,
          })),
          overdue: overdue.rows.map((o) => ({
            requestId: o.request_id,
            jurisdiction: o.jurisdiction,
            kind: o.outcome === 'open' ? 'open' : 'late',
            receivedAt: o.received_at.toISOString(),
            deadline: o.deadline.toISOString(),
            certifiedAt: o.certified_at?.toISOString() ?? null,
          })),
        };
      });
    },

    async certificatesWithoutRequest(limit = 100) {
      const { rows } = await pool.query<{ sequence: string; certificate_id: string; request_id: string }>(
        `SELECT c.sequence, c.certificate_id, c.request_id FROM certificates c
          WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.request_id = c.request_id)
          ORDER BY c.sequence LIMIT $1`,
        [limit],
      );
      return rows.map((r) => ({ sequence: Number(r.sequence), certificateId: r.certificate_id, requestId: r.request_id }));
    },

    async danglingCertificateLink() {
      const { rows } = await pool.query<{ certificate_id: string }>(
        `SELECT r.certificate_id FROM requests r
          WHERE r.certificate_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.certificate_id = r.certificate_id)
          ORDER BY r.completed_at NULLS LAST LIMIT 1`,
      );
      return rows[0]?.certificate_id;
    },
  };
}
