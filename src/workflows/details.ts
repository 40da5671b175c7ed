/**
 * The current details the Temporal Web UI shows on an erasure's page (markdown, kept up to date by the
 * workflow on every state change; the static summary is in ./summary.ts). Pure. Nothing here names the
 * subject: request and system ids, states, times, counts and the commands an operator runs.
 */
import { confirmCommands, DAY_MS, retryCommands, type ErasurePlan, type ErasureState, type SystemState } from '../domain';
import { day, when } from './summary';
import { isFinished, statusOf, systemsOf } from './state';

/** One system's state in words. */
function stateOf(s: SystemState): string {
  if (s.paused) return `paused since ${when(Date.parse(s.paused.since))}`;
  switch (s.status) {
    case 'awaiting_confirmation':
      return `**awaiting confirmation** (${s.remindersSent} reminder${s.remindersSent === 1 ? '' : 's'} sent)`;
    case 'needs_attention':
      return `**needs attention** after ${s.attempts} attempt${s.attempts === 1 ? '' : 's'}`;
    case 'verified':
      return `verified: ${s.receipt?.erased ?? 0} erased, none left`;
    case 'erased':
      return s.mode === 'confirmation' ? 'confirmed' : `erased ${s.receipt?.erased ?? 0}; verified once every system is erased`;
    default:
      return s.status.replace('_', ' ');
  }
}

/** The next thing that happens on its own for `s`, and when; undefined when nothing is scheduled. */
function nextFor(s: SystemState, state: ErasureState, escalateBeforeDays: number): { what: string; at: number } | undefined {
  if (s.status !== 'awaiting_confirmation') return undefined;
  const escalateAt = s.escalated ? Infinity : state.deadlineAt - escalateBeforeDays * DAY_MS;
  const remindAt = s.nextReminderAt ?? Infinity;
  if (!Number.isFinite(Math.min(escalateAt, remindAt))) return undefined;
  return remindAt <= escalateAt ? { what: `reminder to the owner of \`${s.id}\``, at: remindAt } : { what: `escalation for \`${s.id}\``, at: escalateAt };
}

/**
 * The current details of the detail page, rebuilt on every state change: each system's state, pending
 * confirmations with the commands that confirm, the next action and when, legal hold, overdue. `namespace` is
 * the workflow's, for the commands.
 */
export function erasureCurrentDetails(state: ErasureState, plan: ErasurePlan, nowMs: number, namespace = 'default'): string {
  // The workflow does not know where Temporal and the API are: the commands leave that to the reader's shell.
  const where = { namespace };
  const systems = systemsOf(state);
  const status = statusOf(state);
  const lines: string[] = [`**Status: ${status.replace('_', ' ')}** · phase ${state.phase} · deadline ${day(state.deadlineAt)}${state.extended ? ' (extended)' : ''} · as of ${when(nowMs)}`];
  if (state.overdue && !isFinished(state)) lines.push('', `⚠️ **Overdue**: the legal deadline passed on ${day(state.deadlineAt)}.`);
  if (state.legalHold) lines.push('', `⛔ **Legal hold** since ${when(Date.parse(state.legalHold.since))}: nothing is erased until it is released (\`releaseLegalHold\`).`);
  if (state.certificateId) lines.push('', `Certificate \`${state.certificateId}\` issued.`);
  lines.push('', '| system | state |', '|---|---|', ...systems.map((s) => `| \`${s.id}\` | ${stateOf(s)} |`));

  const pending = systems.filter((s) => s.status === 'awaiting_confirmation');
  for (const s of pending) {
    const c = confirmCommands(where, state.requestId, s.id, '<your name>');
    lines.push('', `### Waiting for the owner of \`${s.id}\` to confirm`, '', 'Once the subject is erased there, confirm with one of (Temporal CLI, tctl, the engine\'s API):', '', '```', c.temporal, c.tctl, c.curl, '```');
  }
  for (const s of systems.filter((x) => x.status === 'needs_attention')) {
    const r = retryCommands(where, state.requestId, s.id);
    lines.push('', `### \`${s.id}\` needs attention`, '', `${(s.lastError ?? 'failed').slice(0, 300)}`, '', 'Retry once the cause is fixed, with one of:', '', '```', r.temporal, r.tctl, r.curl, '```');
  }
  const waiting = Object.values(state.consumers).filter((c) => c.status === 'waiting' || c.status === 'escalated');
  if (waiting.length && !isFinished(state)) lines.push('', `Consumers not done yet: ${waiting.map((c) => `\`${c.id}\`${c.status === 'escalated' ? ' (escalated)' : ''}`).join(', ')}.`);

  const next = systems
    .map((s) => nextFor(s, state, plan.policy.escalateBeforeDays))
    .filter((n): n is { what: string; at: number } => n !== undefined)
    .sort((a, b) => a.at - b.at)[0];
  if (next && !state.legalHold) lines.push('', `Next: ${next.what}, ${when(next.at)}.`);
  else if (state.phase === 'grace_period' && state.graceEndsAt !== undefined) lines.push('', `Next: the grace period ends ${when(state.graceEndsAt)}.`);
  return lines.join('\n');
}
