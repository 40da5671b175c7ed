/** Small plans and recording mock activities for workflow tests. */
import type { ErasureActivities } from '../../src/activities/types';
import { defaultPolicies } from '../../src/domain';
import type { ErasureInput } from '../../src/workflows/definitions';
import type { ErasurePlan, JurisdictionPolicy, SystemPlan } from '../../src/domain';

export const automated = (id: string, extra: Partial<SystemPlan> = {}): SystemPlan => ({
  id, kind: 'postgres', mode: 'automated', softDelete: false, dependsOn: [], spec: {}, ...extra,
});
export const manual = (id: string, extra: Partial<SystemPlan> = {}): SystemPlan => ({
  id, kind: 'manual', mode: 'confirmation', softDelete: false, dependsOn: [], notify: true, spec: { owner: `${id}-team` }, ...extra,
});

export function plan(systems: SystemPlan[], opts: { policy?: Partial<JurisdictionPolicy>; consumers?: ErasurePlan['consumers'] } = {}): ErasurePlan {
  return { policy: { ...defaultPolicies.GDPR, ...opts.policy }, systems, consumers: opts.consumers ?? [] };
}

let n = 0;
export function input(p: ErasurePlan, receivedAt: Date, extra: Partial<ErasureInput> = {}): ErasureInput {
  n++;
  return {
    requestId: `req-${Date.now().toString(36)}-${n}`,
    subject: { email: 'alice@example.com', userId: 'u-1' },
    subjectRef: 'subj_test',
    receivedAt: receivedAt.toISOString(),
    plan: p,
    ...extra,
  };
}

/** Every call the workflow made, by activity name. */
export type Calls = { [K in keyof ErasureActivities]: Parameters<ErasureActivities[K]>[0][] };

/** Mock activities that record their calls; `overrides` replace single activities. */
export function recordingActivities(overrides: Partial<ErasureActivities> = {}): { activities: ErasureActivities; calls: Calls } {
  const calls = {
    identifySystem: [], softDeleteSystem: [], restoreSystem: [], eraseSystem: [], verifySystem: [], notifySystem: [], announceToConsumers: [],
    sendReminder: [], escalate: [], recordEvent: [], recordEvents: [], issueCertificate: [],
  } as unknown as Calls;
  const base: ErasureActivities = {
    async identifySystem() { return {}; },
    async softDeleteSystem() { return { affected: 1 }; },
    async restoreSystem() { return { restored: 1 }; },
    async eraseSystem() { return { action: 'delete', found: 2, erased: 2, evidenceHash: 'e'.repeat(64) }; },
    async verifySystem() { return { remaining: 0 }; },
    async notifySystem() {},
    async announceToConsumers() {},
    async sendReminder() {},
    async escalate() {},
    async recordEvent() {},
    // The trail as a batch writes it: each event also appears under recordEvent, in order.
    async recordEvents(events) { (calls.recordEvent as unknown[]).push(...events); },
    async issueCertificate(req) {
      if (!calls.issueCertificate.slice(0, -1).some((r) => r.requestId === req.requestId)) {
        (calls.recordEvent as unknown[]).push(...(req.events?.before ?? []), ...(req.events?.after ?? []));
      }
      return { certificateId: `cert-${req.requestId}` };
    },
  };
  const activities = {} as Record<string, (arg: unknown) => Promise<unknown>>;
  for (const name of Object.keys(base) as (keyof ErasureActivities)[]) {
    const impl = (overrides[name] ?? base[name]) as (arg: unknown) => Promise<unknown>;
    activities[name] = async (arg: unknown) => {
      (calls[name] as unknown[]).push(arg);
      return impl(arg);
    };
  }
  return { activities: activities as unknown as ErasureActivities, calls };
}
