/**
 * The engine's use cases, free of any transport: the HTTP API's routes call them, and so can any other
 * entry point (a message consumer, the CLI). They hold no SQL (the ledger's repositories do) and turn
 * every outcome a caller must hear about into a {@link UseCaseError}.
 */
import type { ErasureSubmission } from '../intake/intake';
import type { OperatorActionName } from '../domain';
import { ledgerGaugeRefresher, metricsExposition, publicKeys, readiness } from './health';
import { operatorAction } from './operate';
import { previewErasure } from './preview';
import { findRequest, listRequests, requestCertificate, requestStatus, type ListFilter } from './read';
import { submit } from './submit';
import type { UseCaseDeps } from './types';

export { UseCaseError, type UseCaseErrorKind } from './errors';
export type { ListedErasure, ListFilter, StatusAnswer } from './read';
export type { Readiness } from './health';
export type { PreviewProgress, PreviewReport, PreviewTotals, SystemPreviewReport } from './preview';
export type { CertificateReader, UseCaseDeps } from './types';

/**
 * Binds every use case to its dependencies.
 * @example const useCases = createUseCases(deps); await useCases.status('req-1');
 */
export function createUseCases(deps: UseCaseDeps) {
  const refreshGauges = ledgerGaugeRefresher(deps);
  return {
    submit: (submission: ErasureSubmission) => submit(deps, submission),
    find: (requestId: string) => findRequest(deps, requestId),
    status: (requestId: string) => requestStatus(deps, requestId),
    certificate: (requestId: string) => requestCertificate(deps, requestId),
    list: (filter: ListFilter) => listRequests(deps, filter),
    operatorAction: (requestId: string, action: OperatorActionName, payload: unknown) => operatorAction(deps, requestId, action, payload),
    readiness: () => readiness(deps),
    metrics: () => metricsExposition(deps, refreshGauges),
    publicKeys: () => publicKeys(deps),
    preview: (subject: unknown) => previewErasure({ catalog: deps.intake.catalog(), connectors: deps.connectors }, subject),
  };
}

export type UseCases = ReturnType<typeof createUseCases>;
