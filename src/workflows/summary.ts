/**
 * The static summary and details an erasure workflow starts with (the Web UI's list and detail pages). Only
 * the domain is imported, so the intake, which starts workflows, loads no workflow code. Nothing here names
 * the subject.
 */
import type { ErasurePlan, Jurisdiction } from '../domain';

/** `2026-12-02` */
export const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
/** `2026-12-02 04:15 UTC` */
export const when = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';

/**
 * The static summary the list view shows, set when the workflow starts: jurisdiction, systems, deadline.
 * @example erasureSummary('GDPR', 4, '2027-01-02T00:00:00.000Z') // 'GDPR erasure · 4 systems · deadline 2027-01-02'
 */
export function erasureSummary(jurisdiction: Jurisdiction, systems: number, deadline: string): string {
  return `${jurisdiction} erasure · ${systems} system${systems === 1 ? '' : 's'} · deadline ${deadline.slice(0, 10)}`;
}

/** The static details of the detail page: what was asked, once (the current details follow the state). */
export function erasureStaticDetails(requestId: string, plan: ErasurePlan, receivedAt: string, deadline: string): string {
  const rows = plan.systems.map((s) => `| \`${s.id}\` | ${s.kind} | ${s.mode === 'automated' ? 'erased by the engine' : 'confirmed by its owner'} |`);
  return [
    `**Erasure request \`${requestId}\`** (${plan.policy.jurisdiction})`,
    '',
    `Received ${when(Date.parse(receivedAt))}; legal deadline ${day(Date.parse(deadline))}.`,
    '',
    '| system | kind | how |',
    '|---|---|---|',
    ...rows,
    ...(plan.consumers.length ? ['', `Consumers told first: ${plan.consumers.map((c) => `\`${c.id}\``).join(', ')}.`] : []),
  ].join('\n');
}
