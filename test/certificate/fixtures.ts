/** Certificate requests as the workflow hands them over, with identifiers distinctive enough to search for. */
import type { Pool } from 'pg';
import type { CertificateRequest } from '../../src/activities/types';
import type { SubjectIdentifiers } from '../../src/domain';

/**
 * Records requests `req-1` … `req-<n>` in the ledger as the intake would (the workflow ids `certificateRequest`
 * names), since the issuer certifies only requests the ledger received. Rows already there are kept.
 * @example await receiveRequests(pool, 3); await issuer.issue(certificateRequest(1));
 */
export async function receiveRequests(pool: Pool, n: number): Promise<void> {
  await pool.query(
    `INSERT INTO requests (request_id, workflow_id, subject_ref, jurisdiction, status, body_hash, received_at, deadline)
     SELECT 'req-' || i, 'erasure-req-' || i, 'subj_' || i, 'GDPR', 'running', 'h', now(), now() + interval '30 days'
       FROM generate_series(1, $1::int) AS i
     ON CONFLICT (request_id) DO NOTHING`,
    [n],
  );
}

export const subjectOf = (n: number): SubjectIdentifiers => ({
  email: `ada.lovelace.${n}@analytical-engine.example`,
  userId: `user-7f3a9c-${n}`,
  phone: `+4915112345${String(n).padStart(3, '0')}`,
  custom: { loyaltyCard: `LC-99887766-${n}` },
});

/** Every plaintext identifier value of a subject. */
export const identifierValues = (s: SubjectIdentifiers): string[] =>
  [s.email, s.userId, s.phone, ...Object.values(s.custom ?? {})].filter((v): v is string => Boolean(v));

export function certificateRequest(n: number, overrides: Partial<CertificateRequest> = {}): CertificateRequest {
  const subject = overrides.subject ?? subjectOf(n);
  return {
    requestId: `req-${n}`,
    workflowId: `erasure-req-${n}`,
    runId: `run-${n}-b`,
    firstRunId: `run-${n}-a`,
    subject,
    jurisdiction: 'GDPR',
    receivedAt: '2026-03-01T09:00:00.000Z',
    deadline: '2026-03-31T09:00:00.000Z',
    extended: false,
    completedAt: '2026-03-12T17:30:00.000Z',
    receipts: [
      {
        systemId: 'customers-db',
        kind: 'postgres',
        action: 'mixed',
        found: 14,
        erased: 14,
        remaining: 0,
        evidenceHash: 'a'.repeat(64),
        attempts: 2,
        startedAt: '2026-03-12T17:00:00.000Z',
        completedAt: '2026-03-12T17:01:00.000Z',
        details: { customers: 1, invoices: 13 },
      },
      {
        systemId: 'legacy-billing',
        kind: 'manual',
        action: 'confirmed',
        found: 1,
        erased: 1,
        remaining: 0,
        evidenceHash: 'b'.repeat(64),
        attempts: 1,
        startedAt: '2026-03-10T08:00:00.000Z',
        completedAt: '2026-03-12T16:00:00.000Z',
        confirmedBy: 'billing-team:grace',
        reference: `TICKET-4711 for ${subject.email}`,
        note: `removed account ${subject.userId?.toUpperCase()} and card ${subject.custom?.loyaltyCard}`,
      },
    ],
    consumers: [
      { id: 'analytics', critical: false, status: 'ok', reportedAt: '2026-03-05T10:00:00.000Z', note: `done with ${subject.phone}` },
      { id: 'archive', critical: true, status: 'ok', reportedAt: '2026-03-06T10:00:00.000Z' },
    ],
    actions: [
      { at: '2026-03-02T10:00:00.000Z', signal: 'placeLegalHold', accepted: true, by: 'legal:kim', reason: 'litigation check', detail: { reason: 'litigation check' } },
      { at: '2026-03-04T10:00:00.000Z', signal: 'releaseLegalHold', accepted: true, by: 'legal:kim' },
      {
        at: '2026-03-12T16:00:00.000Z',
        signal: 'confirmDeletion',
        accepted: true,
        by: 'billing-team:grace',
        detail: { system: 'legacy-billing', note: `customer ${subject.email} wrote in` },
      },
    ],
    ...overrides,
  };
}
