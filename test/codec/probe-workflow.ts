/**
 * A small workflow for the history tests: the erasure workflow's payload shapes (ErasureInput in,
 * SystemTask and CertificateRequest to activities, identifier-free results and signals) without its
 * business logic. It waits for `finishProbe` between erasing and certifying, so a test can look at the
 * history of an open request before the certificate shreds its key.
 */
import * as wf from '@temporalio/workflow';
import type { CertificateRequest, SystemTask } from '../../src/activities/types';
import { ErasureStatusKey, type ErasureInput, type ErasureResult } from '../../src/workflows/definitions';
import { type Receipt } from '../../src/domain';

/** The activities the probe calls, with the engine's argument types. */
export interface ProbeActivities {
  eraseSystem(task: SystemTask): Promise<{ found: number; erased: number; evidenceHash: string }>;
  issueCertificate(req: CertificateRequest): Promise<{ certificateId: string }>;
}

export const finishProbeSignal = wf.defineSignal<[{ confirmedBy: string }]>('finishProbe');

export async function piiProbeWorkflow(input: ErasureInput): Promise<ErasureResult> {
  const acts = wf.proxyActivities<ProbeActivities>({
    startToCloseTimeout: '20s',
    retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 3 },
  });
  let confirmedBy: string | undefined;
  wf.setHandler(finishProbeSignal, (s) => {
    confirmedBy = s.confirmedBy;
  });
  const startedAt = new Date().toISOString();
  const receipts: Receipt[] = [];
  for (const system of input.plan.systems) {
    wf.upsertSearchAttributes([{ key: ErasureStatusKey, value: 'erasing' }]);
    const r = await acts.eraseSystem({ requestId: input.requestId, subject: input.subject, subjectRef: input.subjectRef, system });
    receipts.push({ systemId: system.id, kind: system.kind, action: 'delete', ...r, remaining: 0, attempts: 1, startedAt, completedAt: new Date().toISOString() });
  }
  await wf.condition(() => confirmedBy !== undefined);
  wf.upsertSearchAttributes([{ key: ErasureStatusKey, value: 'certifying' }]);
  const info = wf.workflowInfo();
  const { certificateId } = await acts.issueCertificate({
    requestId: input.requestId,
    workflowId: info.workflowId,
    runId: info.runId,
    firstRunId: info.firstExecutionRunId,
    subject: input.subject,
    jurisdiction: input.plan.policy.jurisdiction,
    receivedAt: input.receivedAt,
    deadline: input.receivedAt,
    extended: false,
    completedAt: new Date().toISOString(),
    receipts,
    consumers: [],
    actions: [],
  });
  wf.upsertSearchAttributes([{ key: ErasureStatusKey, value: 'completed' }]);
  return { status: 'completed', certificateId, receipts };
}

/** Fails at once with a message naming only the request, to check that failures still reach clients intact. */
export async function failingProbeWorkflow(input: { requestId: string }): Promise<never> {
  throw wf.ApplicationFailure.nonRetryable(`request ${input.requestId} cannot be erased: plan refused`, 'PlanRefused');
}
