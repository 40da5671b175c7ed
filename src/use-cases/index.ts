/**
 * The engine's use cases, free of any transport: the HTTP API's routes call them, and so can any other
 * entry point (a message consumer, the CLI). They hold no SQL (the ledger's repositories do) and turn
 * every outcome a caller must hear about into a {@link UseCaseError}.
 */
import type { ErasureSubmission } from '../intake/intake';
import type { OperatorActionName } from '../domain';
import { ledgerGaugeRefresher, metricsExposition, publicKeys, readiness } from './health';
import { createKeyedLimiter } from './limiter';
import { operatorAction } from './operate';
import { bulkDryRun, bulkStatus, startBulk, type BulkAction, type BulkSelection } from './bulk';
import { pauseForAll, pauseHistory, listSystems, resumeForAll } from './pause';
import { previewErasure } from './preview';
import { findRequest, listRequests, requestCertificate, requestStatus, type ListFilter } from './read';
import { erasureReport } from './report';
import { submit } from './submit';
import type { UseCaseDeps } from './types';

export { UseCaseError, type UseCaseErrorKind } from './errors';
export type { ListedErasure, ListFilter, StatusAnswer } from './read';
export type { Readiness } from './health';
export type { PreviewProgress, PreviewReport, PreviewTotals, SystemPreviewReport } from './preview';
export type { ErasureReport, ReportRow } from './report';
export type { CertificateReader, UseCaseDeps } from './types';
export { bulkActions, bulkSelectionSchema, MAX_BULK_REQUESTS, type BulkAction, type BulkBatchView, type BulkMatch, type BulkSelection, type BulkStarted } from './bulk';

/**
 * Binds every use case to its dependencies.
 * @example const useCases = createUseCases(deps); await useCases.status('req-1');
 */
export function createUseCases(deps: UseCaseDeps) {
  const refreshGauges = ledgerGaugeRefresher(deps);
  // Updates per workflow at a time: below Temporal's in-flight limit (10). Measured on the dev server, one
  // request takes about 40 actions/s this way, so 256 waiting still finish inside the 10 s action deadline;
  // more are refused at once (429) instead of timing out.
  const actions = createKeyedLimiter({ perKey: 8, queue: 256 });
  return {
    submit: (submission: ErasureSubmission) => submit(deps, submission),
    find: (requestId: string) => findRequest(deps, requestId),
    status: (requestId: string) => requestStatus(deps, requestId),
    certificate: (requestId: string) => requestCertificate(deps, requestId),
    list: (filter: ListFilter) => listRequests(deps, filter),
    operatorAction: (requestId: string, action: OperatorActionName, payload: unknown, actor?: string) => operatorAction(deps, actions, requestId, action, payload, actor),
    readiness: () => readiness(deps),
    metrics: () => metricsExposition(deps, refreshGauges),
    publicKeys: () => publicKeys(deps),
    preview: (subject: unknown) => previewErasure({ catalog: deps.intake.catalog(), connectors: deps.connectors }, subject),
    bulkDryRun: (action: BulkAction, selection: BulkSelection, payload: unknown, actor?: string) => bulkDryRun(deps, action, selection, payload, actor),
    startBulk: (action: BulkAction, selection: BulkSelection, payload: unknown, actor: string) => startBulk(deps, action, selection, payload, actor),
    bulkStatus: (batchId: string) => bulkStatus(deps, batchId),
    systems: () => listSystems(deps),
    pauseHistory: (system?: string) => pauseHistory(deps, system),
    pauseSystem: (system: string, reason: string, actor: string) => pauseForAll(deps, system, reason, actor),
    resumeSystem: (system: string, actor: string) => resumeForAll(deps, system, actor),
    report: (range: { from?: string; to?: string }) => erasureReport({ requests: deps.requests }, range),
  };
}

export type UseCases = ReturnType<typeof createUseCases>;
