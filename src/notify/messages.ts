/**
 * What a notification says. Pure: from the facts of one event (request id, systems, consumers, deadline,
 * what is asked) to a message that reads the same by e-mail (subject and plain text) and in chat (Slack's
 * `{text, blocks}`). The facts never hold the subject's identifiers, only the keyed `subjectRef`, so no
 * message can carry one.
 */
import { confirmCommands, consumerCommands, retryCommands, type ActionCommands, type CommandContext, type EscalationReason } from '../domain';

/** The events the engine tells people about. */
export const noticeKinds = ['manual_request', 'reminder', 'escalation'] as const;
export type NoticeKind = (typeof noticeKinds)[number];

/** One system a notice is about, as the worker's catalog describes it. */
export interface NoticeSystem {
  id: string;
  kind: string;
  /** Confirmed by a person with `confirmDeletion` (manual, webhook in signal mode); otherwise retried. */
  confirmable: boolean;
  /** The manual system's owner, as the catalog names it. */
  owner?: string;
  /** The manual system's instructions from the catalog. */
  instructions?: string;
}

/** Everything a notice is written from; no identifier of the subject. */
export interface NoticeFacts {
  kind: NoticeKind;
  /** For escalations: why. */
  reason?: EscalationReason;
  requestId: string;
  subjectRef?: string;
  /** ISO time of the legal deadline, when known. */
  deadline?: string;
  systems: NoticeSystem[];
  consumers: string[];
  /** For reminders: how many have been sent, this one included. */
  remindersSent?: number;
  /** The workflow's own words (a failure's message), free of identifiers. */
  detail?: string;
}

/** Slack Block Kit blocks used here: sections of mrkdwn text and a context line. */
export type ChatBlock = { type: 'section'; text: { type: 'mrkdwn'; text: string } } | { type: 'context'; elements: Array<{ type: 'mrkdwn'; text: string }> };

/** A rendered notice. */
export interface Notice {
  /** E-mail subject line. */
  subject: string;
  /** E-mail body and chat fallback text. */
  text: string;
  blocks: ChatBlock[];
}

const reasonTitles: Record<EscalationReason, string> = {
  confirmation_due: 'confirmation due before the deadline',
  critical_consumer_timeout: 'a critical consumer has not completed',
  overdue: 'the legal deadline has passed',
  needs_attention: 'needs an operator',
};

function headline(f: NoticeFacts): string {
  const names = f.systems.map((s) => s.id).concat(f.consumers).join(', ');
  switch (f.kind) {
    case 'manual_request':
      return `Erasure request ${f.requestId}: please erase the subject from ${names}`;
    case 'reminder':
      return `Reminder${f.remindersSent ? ` ${f.remindersSent}` : ''}: erasure request ${f.requestId} still waits for ${names}`;
    case 'escalation':
      return `Escalation: erasure request ${f.requestId}, ${reasonTitles[f.reason ?? 'confirmation_due']}${names ? ` (${names})` : ''}`;
  }
}

/** What the reader is asked to do, in a sentence. */
function ask(f: NoticeFacts): string {
  if (f.kind === 'escalation' && f.reason === 'needs_attention') return 'Find and fix the cause (the engine cannot retry it away), then retry the system with one of the commands below.';
  if (f.kind === 'escalation' && f.reason === 'overdue') return 'Finish the outstanding work now (or extend the deadline with a reason, once); each outstanding system or consumer is listed with the command that closes it.';
  if (f.kind === 'escalation') return 'The request is close to its legal deadline: make sure the outstanding work is done and confirmed with the commands below.';
  return 'Erase every record of the subject, then confirm with one of the commands below.';
}

function actionsFor(f: NoticeFacts, ctx: CommandContext): ActionCommands[] {
  const systems = f.systems.map((s) =>
    s.confirmable && !(f.kind === 'escalation' && f.reason === 'needs_attention') ? confirmCommands(ctx, f.requestId, s.id, s.owner ?? 'operator') : retryCommands(ctx, f.requestId, s.id),
  );
  return [...systems, ...f.consumers.map((c) => consumerCommands(ctx, f.requestId, c))];
}

/**
 * Writes the notice for one event.
 * @example const { subject, text, blocks } = renderNotice({ kind: 'reminder', requestId: 'req-1', systems, consumers: [], remindersSent: 1, deadline }, ctx);
 */
export function renderNotice(f: NoticeFacts, ctx: CommandContext): Notice {
  const subject = headline(f);
  const facts = [
    `Request:   ${f.requestId} (workflow erasure-${f.requestId})`,
    ...(f.subjectRef ? [`Subject:   ${f.subjectRef} (a keyed reference; the engine never sends identifiers)`] : []),
    `Deadline:  ${f.deadline ?? 'unknown (not in the ledger)'}`,
    ...f.systems.map((s) => `System:    ${s.id} (${s.kind}${s.owner ? `, owner ${s.owner}` : ''})`),
    ...f.consumers.map((c) => `Consumer:  ${c}`),
    ...(f.kind === 'reminder' && f.remindersSent ? [`Reminder:  number ${f.remindersSent}`] : []),
    ...(f.detail ? [`Detail:    ${f.detail}`] : []),
  ];
  // Mail and chat are copies nobody can shred: the identifiers stay where access is controlled and audited.
  const where =
    f.kind === 'manual_request'
      ? [`The subject's identifiers are never sent by mail or chat: an operator reads them in the Temporal Web UI (workflow erasure-${f.requestId}, its input decoded by the codec server, each decode audited) while the request is open.`]
      : [];
  const instructions = f.systems.filter((s) => s.instructions).map((s) => `Instructions for ${s.id}:\n${s.instructions!.trim()}`);
  const actions = actionsFor(f, ctx);
  const commandText = actions.flatMap((a) => [`To ${a.what}, run one of:`, `  ${a.temporal}`, `  ${a.tctl}`, `  ${a.curl}`, '']);
  const text = [subject, '', ...facts, '', ask(f), ...where, '', ...instructions.flatMap((i) => [i, '']), ...commandText, 'The curl line needs an API key with the action\'s scope in ERASURE_API_KEY.', '']
    .join('\n');
  const blocks: ChatBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: [`*${subject}*`, ask(f), ...where].join('\n') } },
    { type: 'section', text: { type: 'mrkdwn', text: facts.map((l) => `• ${l.replace(/:\s+/, ': ')}`).join('\n') } },
    ...instructions.map((i): ChatBlock => ({ type: 'section', text: { type: 'mrkdwn', text: i } })),
    ...actions.map((a): ChatBlock => ({ type: 'section', text: { type: 'mrkdwn', text: `*${a.what}*\n\`\`\`${a.temporal}\n${a.tctl}\n${a.curl}\`\`\`` } })),
    { type: 'context', elements: [{ type: 'mrkdwn', text: 'Sent by the erasure engine. The curl line needs an API key with the action\'s scope in ERASURE_API_KEY.' }] },
  ];
  return { subject, text, blocks };
}
