/**
 * The worker's notifier: turns the workflow's reminders, escalations and manual-erasure requests into
 * notifications for the people the catalog names (a system's or consumer's `notify`, the root's
 * `escalation.notify`) and queues them in the engine database; the dispatcher (./dispatcher.ts) delivers.
 * Queueing is all an activity waits for, so a mail server that is down never slows an erasure.
 *
 * Who hears of what:
 * - a manual system's erasure request (`notifySystem`) and its reminders: the system's owner;
 * - an escalation before the deadline (`confirmation_due`, `critical_consumer_timeout`), an overdue request and
 *   a request needing an operator: the escalation contacts, and the owners of the systems and consumers named.
 *
 * Each notification's id is stable (request, event, the scheduled activity, channel, recipient), so an
 * activity that is retried queues it once. Messages carry no identifier of the subject.
 */
import { Context } from '@temporalio/activity';
import type { Catalog } from '../catalog/schema';
import type { Escalation, Reminder } from '../activities/types';
import type { Pool } from '../ledger/db';
import { createRequestRepository } from '../ledger/requests';
import type { Logger } from '../logger';
import type { CommandContext } from '../domain';
import { renderNotice, type NoticeFacts, type NoticeSystem } from './messages';
import { queueNotifications, type QueuedNotification } from './queue';
import type { NotifyTargets } from './schema';

/** A manual system asked to erase (the activity `notifySystem`). */
export interface ManualErasureRequest {
  requestId: string;
  subjectRef: string;
  systemId: string;
}

export interface NotificationQueueOptions {
  pool: Pool;
  /** The worker's catalog: recipients, owners and instructions come from it alone. */
  catalog: Catalog;
  /** Where the confirm commands in messages point. */
  commands: CommandContext;
  logger: Logger;
  /** Called after something was queued (wakes an in-process dispatcher). */
  onQueued?: () => void;
}

/** What the activities call. */
export interface NotificationQueue {
  requestErasure(r: ManualErasureRequest): Promise<number>;
  remind(r: Reminder): Promise<number>;
  escalate(e: Escalation): Promise<number>;
}

/** One party and where it is told. `ref` names it in the queue (`system:<id>`, `consumer:<id>`, `escalation`). */
interface Party {
  ref: string;
  notify: NotifyTargets;
}

/** The scheduled activity's identity, the same on each of its retries; undefined outside an activity. */
function activityExecution(): string | undefined {
  try {
    const { workflowExecution, activityId } = Context.current().info;
    return workflowExecution ? `${workflowExecution.runId}:${activityId}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One notification per recipient: each e-mail address once (whichever party lists it), each webhook once.
 * @example recipients([{ ref: 'escalation', notify: { email: ['dpo@corp.example'] } }])
 */
export function recipients(parties: readonly Party[]): Array<{ channel: 'email' | 'webhook'; target: string }> {
  const out: Array<{ channel: 'email' | 'webhook'; target: string }> = [];
  const emails = new Set<string>();
  const webhooks = new Set<string>();
  for (const p of parties) {
    for (const address of p.notify.email ?? []) {
      const key = address.toLowerCase();
      if (emails.has(key)) continue;
      emails.add(key);
      out.push({ channel: 'email', target: address });
    }
    if (p.notify.webhook && !webhooks.has(p.notify.webhook.url)) {
      webhooks.add(p.notify.webhook.url);
      out.push({ channel: 'webhook', target: p.ref });
    }
  }
  return out;
}

/**
 * Builds the queue side of the notifier.
 * @example const queue = notificationQueue({ pool, catalog, commands, logger }); await queue.remind(reminder);
 */
export function notificationQueue(opts: NotificationQueueOptions): NotificationQueue {
  const { catalog } = opts;
  const requests = createRequestRepository(opts.pool);

  const systemFacts = (id: string): NoticeSystem => {
    const s = catalog.systems.find((x) => x.id === id);
    if (!s) return { id, kind: 'unknown', confirmable: false };
    const confirmable = s.kind === 'manual' || (s.kind === 'webhook' && s.confirmation === 'signal');
    return { id, kind: s.kind, confirmable, ...(s.kind === 'manual' ? { owner: s.owner, ...(s.instructions ? { instructions: s.instructions } : {}) } : {}) };
  };
  const systemParty = (id: string): Party[] => {
    const notify = catalog.systems.find((x) => x.id === id)?.notify;
    return notify ? [{ ref: `system:${id}`, notify }] : [];
  };
  const consumerParty = (id: string): Party[] => {
    const notify = catalog.consumers.find((x) => x.id === id)?.notify;
    return notify ? [{ ref: `consumer:${id}`, notify }] : [];
  };
  const contacts = (): Party[] => (catalog.escalation ? [{ ref: 'escalation', notify: catalog.escalation.notify }] : []);

  async function queue(facts: NoticeFacts, kind: string, scope: string, parties: Party[]): Promise<number> {
    const to = recipients(parties);
    if (to.length === 0) {
      opts.logger.debug({ requestId: facts.requestId, kind }, 'nobody to notify: the catalog names no notify targets for this event');
      return 0;
    }
    const message = renderNotice(facts, opts.commands);
    const execution = activityExecution();
    const items: QueuedNotification[] = to.map((r) => ({
      notificationId: [facts.requestId, kind, scope, ...(execution ? [execution] : []), r.channel, r.target.toLowerCase()].join(':'),
      requestId: facts.requestId,
      kind,
      channel: r.channel,
      target: r.target,
      message,
    }));
    const queued = await queueNotifications(opts.pool, items);
    opts.logger.info({ requestId: facts.requestId, kind, recipients: to.length, queued }, 'notifications queued');
    if (queued > 0) opts.onQueued?.();
    return queued;
  }

  return {
    async requestErasure(r) {
      const record = await requests.find(r.requestId);
      const facts: NoticeFacts = { kind: 'manual_request', requestId: r.requestId, subjectRef: r.subjectRef, deadline: record?.deadline, systems: [systemFacts(r.systemId)], consumers: [] };
      return queue(facts, 'manual_request', r.systemId, systemParty(r.systemId));
    },
    async remind(r) {
      const facts: NoticeFacts = { kind: 'reminder', requestId: r.requestId, deadline: r.deadline, systems: [systemFacts(r.systemId)], consumers: [], remindersSent: r.remindersSent };
      return queue(facts, 'reminder', `${r.systemId}:${r.remindersSent}`, systemParty(r.systemId));
    },
    async escalate(e) {
      const systems = e.systemIds ?? [];
      const consumers = e.consumerIds ?? [];
      const facts: NoticeFacts = { kind: 'escalation', reason: e.reason, requestId: e.requestId, deadline: e.deadline, systems: systems.map(systemFacts), consumers, detail: e.message };
      const parties = [...contacts(), ...systems.flatMap(systemParty), ...consumers.flatMap(consumerParty)];
      return queue(facts, `escalation.${e.reason}`, [e.deadline, systems.join(','), consumers.join(',')].join(':'), parties);
    },
  };
}
