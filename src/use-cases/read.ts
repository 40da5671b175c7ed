/**
 * Reading requests: one request's status (from its workflow while open, from the ledger otherwise), its
 * certificate, and lists through Temporal visibility (search attributes).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { erasureStatuses, finalPhases, isOneOf, jurisdictions, type ErasureStatus, type ErasureStatusView, type Jurisdiction } from '../domain';
import type { RequestRecord } from '../ledger/requests';
import {
  ERASURE_WORKFLOW_TYPE,
  ErasureDeadlineKey,
  ErasureJurisdictionKey,
  ErasureOverdueKey,
  ErasurePendingSystemsKey,
  ErasureStatusKey,
  requestIdOf,
  statusQuery,
} from '../workflows/definitions';
import { UseCaseError } from './errors';
import type { UseCaseDeps } from './types';

/** A status answer says where it comes from: the running workflow, or the ledger's row. */
export type StatusAnswer = (RequestRecord & { source: 'ledger' }) | (ErasureStatusView & { workflowId: string; source: 'workflow' });

export interface ListFilter {
  status?: ErasureStatus;
  overdue?: boolean;
  jurisdiction?: Jurisdiction;
  pageSize: number;
  /** Opaque token (base64url) from a previous page. */
  pageToken?: string;
}

export interface ListedErasure {
  requestId: string;
  workflowId: string;
  status: string | null;
  deadline: string | null;
  overdue: boolean;
  jurisdiction: string | null;
  pendingSystems: string[];
}

/**
 * The ledger's row, or a `not_found` error.
 * @example const record = await findRequest(deps, 'req-1');
 */
export async function findRequest(deps: UseCaseDeps, requestId: string): Promise<RequestRecord> {
  const record = await deps.requests.find(requestId);
  if (!record) throw new UseCaseError('not_found', `no erasure request ${requestId}`);
  return record;
}

/**
 * A request's status: the workflow's `status` query while it runs; the ledger before it starts, after it
 * ends, and whenever Temporal does not answer in time (logged, then answered from the ledger).
 * @example const answer = await requestStatus(deps, 'req-1'); answer.source // 'workflow'
 */
export async function requestStatus(deps: UseCaseDeps, requestId: string): Promise<StatusAnswer> {
  const record = await findRequest(deps, requestId);
  if (!record.workflowStartedAt || isOneOf(finalPhases, record.status)) return { ...record, source: 'ledger' };
  try {
    const status = await deps.client.connection.withDeadline(Date.now() + (deps.timeouts?.statusMs ?? 5000), () =>
      deps.client.workflow.getHandle(record.workflowId).query(statusQuery),
    );
    return { ...status, workflowId: record.workflowId, source: 'workflow' };
  } catch (err) {
    deps.logger.warn({ requestId, err: { name: (err as Error).name, message: (err as Error).message } }, 'status query failed; answering from the ledger');
    return { ...record, source: 'ledger' };
  }
}

/**
 * The request's signed certificate; `not_found` until one is issued.
 * @example const certificate = await requestCertificate(deps, 'req-1');
 */
export async function requestCertificate(deps: UseCaseDeps, requestId: string): Promise<unknown> {
  const record = await findRequest(deps, requestId);
  const certificate = await deps.certificates.get(record.requestId);
  if (!certificate) throw new UseCaseError('not_found', `request ${record.requestId} has no certificate yet (status ${record.status})`);
  return certificate;
}

/** gRPC's INVALID_ARGUMENT: Temporal refused the query. */
const GRPC_INVALID_ARGUMENT = 3;

/** Bytes of the keyed tag in front of Temporal's own page token. */
const TOKEN_TAG_BYTES = 16;

const tokenTag = (secret: string, query: string, raw: Uint8Array) =>
  createHmac('sha256', secret).update('erasure-list-page\0').update(query).update('\0').update(raw).digest().subarray(0, TOKEN_TAG_BYTES);

/**
 * A page token as callers see it: Temporal's token behind a keyed tag over it and the query it belongs
 * to, so a token the list never gave out, or one reused with other filters, is refused at once (400)
 * instead of reaching Temporal, which answers such tokens with an internal error.
 */
function sealPageToken(secret: string, query: string, raw: Uint8Array): string {
  return Buffer.concat([tokenTag(secret, query, raw), raw]).toString('base64url');
}

function openPageToken(secret: string, query: string, token: string): Buffer {
  const sealed = Buffer.from(token, 'base64url');
  const raw = sealed.subarray(TOKEN_TAG_BYTES);
  const tag = sealed.subarray(0, TOKEN_TAG_BYTES);
  if (raw.length === 0 || !timingSafeEqual(tag, tokenTag(secret, query, raw))) {
    throw new UseCaseError('invalid', 'the page token is not one this list gave out for these filters');
  }
  return raw;
}

/**
 * The visibility query for a filter. Values are interpolated into Temporal's query language, so each is
 * checked against its closed list here too, whatever the caller validated.
 */
function visibilityQuery(f: ListFilter): string {
  if (f.status !== undefined && !isOneOf(erasureStatuses, f.status)) throw new UseCaseError('invalid', `unknown status "${f.status}"`);
  if (f.jurisdiction !== undefined && !isOneOf(jurisdictions, f.jurisdiction)) throw new UseCaseError('invalid', `unknown jurisdiction "${f.jurisdiction}"`);
  if (f.overdue !== undefined && typeof f.overdue !== 'boolean') throw new UseCaseError('invalid', 'overdue must be true or false');
  const clauses = [`WorkflowType = '${ERASURE_WORKFLOW_TYPE}'`];
  if (f.status) clauses.push(`${ErasureStatusKey.name} = '${f.status}'`);
  if (f.overdue !== undefined) clauses.push(`${ErasureOverdueKey.name} = ${f.overdue}`);
  if (f.jurisdiction) clauses.push(`${ErasureJurisdictionKey.name} = '${f.jurisdiction}'`);
  return clauses.join(' AND ');
}

/**
 * One page of erasures from Temporal visibility, newest first; `unavailable` (with Temporal's error as
 * its cause) when visibility does not answer.
 * @example const { items, nextPageToken } = await listRequests(deps, { status: 'overdue', pageSize: 50 });
 */
export async function listRequests(deps: UseCaseDeps, filter: ListFilter): Promise<{ items: ListedErasure[]; nextPageToken: string | null }> {
  const query = visibilityQuery(filter);
  const secret = deps.intake.subjectSecret;
  const nextPageToken = filter.pageToken ? openPageToken(secret, query, filter.pageToken) : undefined;
  let resp;
  try {
    resp = await deps.client.connection.withDeadline(Date.now() + (deps.timeouts?.listMs ?? 10_000), () =>
      deps.client.connection.workflowService.listWorkflowExecutions({
        namespace: deps.namespace,
        query,
        pageSize: filter.pageSize,
        nextPageToken,
      }),
    );
  } catch (err) {
    if ((err as { code?: unknown }).code === GRPC_INVALID_ARGUMENT) throw new UseCaseError('invalid', 'Temporal refused the list query', {}, { cause: err });
    throw new UseCaseError('unavailable', 'Temporal visibility did not answer; try again', {}, { cause: err });
  }
  const items = (resp.executions ?? []).map((e): ListedErasure => {
    const sa = decodeTypedSearchAttributes(e.searchAttributes?.indexedFields);
    const workflowId = e.execution?.workflowId ?? '';
    return {
      requestId: requestIdOf(workflowId),
      workflowId,
      status: sa.get(ErasureStatusKey) ?? null,
      deadline: sa.get(ErasureDeadlineKey)?.toISOString() ?? null,
      overdue: sa.get(ErasureOverdueKey) ?? false,
      jurisdiction: sa.get(ErasureJurisdictionKey) ?? null,
      pendingSystems: sa.get(ErasurePendingSystemsKey) ?? [],
    };
  });
  return { items, nextPageToken: resp.nextPageToken?.length ? sealPageToken(secret, query, resp.nextPageToken) : null };
}
