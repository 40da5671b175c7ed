/**
 * Notifications over a request's 30 days, on the Java time-skipping server: the worker's real notifySystem,
 * sendReminder and escalate activities queue into PostgreSQL and the dispatcher delivers to a real mailpit.
 * The owner gets the request, then a reminder every 3 days; the escalation contacts get the escalation
 * before the deadline and the overdue notice after it. No message carries the subject's identifiers.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { createActivities, logNotifier } from '../../src/activities';
import { createAttestor } from '../../src/attestation';
import { parseCatalog } from '../../src/catalog/load';
import type { Catalog } from '../../src/catalog/schema';
import type { Pool } from '../../src/ledger/db';
import { createActivityAudit } from '../../src/ledger/audit';
import { withNotifications } from '../../src/notify';
import { emailChannel } from '../../src/notify/channels';
import { startNotificationDispatcher } from '../../src/notify/dispatcher';
import { notificationQueue } from '../../src/notify/notifier';
import { confirmDeletionSignal } from '../../src/workflows/definitions';
import { findIdentifiers, describeHits } from '../codec/pii-scan';
import { input, manual, plan } from '../harness/plans';
import { useLedgerDatabase } from '../harness/ledger';
import { capturingLogger } from '../harness/logs';
import { startMailbox, type Mailbox } from '../harness/mailpit';
import { DAY, workflowTestbed } from '../workflows/testbed';

const subject = { email: 'timeskip.person@example.org', userId: 'ts-user-88121', phone: '+15550106633' };

describe('notifications over a request\'s lifetime (time-skipping)', function () {
  const ledger = useLedgerDatabase();
  const bed = workflowTestbed();
  let mail: Mailbox;

  before(async () => {
    mail = await startMailbox();
  });
  after(async () => {
    await mail?.stop();
  });

  /** The worker's real notification activities on `pool`, and a dispatcher delivering to the suite's mailpit. */
  function wire(pool: Pool, catalog: Catalog) {
    const { logger } = capturingLogger();
    const dispatcher = startNotificationDispatcher({
      pool,
      catalog,
      email: emailChannel({ host: mail.env.SMTP_HOST, port: mail.server.smtpPort, from: 'erasure@corp.example', tls: 'none' }),
      logger,
      pollMs: 100,
    });
    const queue = notificationQueue({ pool, catalog, logger, commands: { temporalAddress: '127.0.0.1:7233', namespace: 'default', publicUrl: 'http://localhost:3000' }, onQueued: () => dispatcher.wake() });
    const real = createActivities({
      catalog,
      notifier: withNotifications(logNotifier(logger), queue),
      audit: createActivityAudit({ pool, attestor: createAttestor(createSecretKey(randomBytes(32))) }),
      certificates: { issue: async (r) => ({ certificateId: `cert-${r.requestId}` }) },
      logger,
    });
    return { dispatcher, real };
  }

  it('sends the request, a reminder every 3 days, the escalation and the overdue notice, each once', async () => {
    await mail.clear();
    const db = await ledger.fresh();
    const catalog = parseCatalog(
      [
        'systems:',
        '  - { id: legacy-billing, kind: manual, owner: legacy-billing-team, instructions: "Purge the billing archive.", notify: { email: [billing@corp.example] } }',
        'escalation:',
        '  notify: { email: [dpo@corp.example] }',
      ].join('\n'),
      'catalog.yaml',
      {},
    );
    const { dispatcher, real } = wire(db.pool, catalog);
    try {
      const req = input(plan([manual('legacy-billing')]), await bed.now(), { subject });
      await bed.run(
        req,
        async (h) => {
          await bed.until(h, (s) => s.status === 'awaiting_confirmation', 'awaiting confirmation');
          const [request] = await mail.waitFor((ms) => ms.length === 1, 'the erasure request');
          assert.deepEqual(request.To.map((t) => t.Address), ['billing@corp.example']);
          assert.match(request.Subject, new RegExp(`Erasure request ${req.requestId}: please erase the subject from legacy-billing`));
          assert.match(request.Text, /Purge the billing archive\./);
          assert.match(request.Text, /Deadline: {2}unknown/, 'a workflow the ledger never received has no ledger deadline');

          await bed.env.sleep(10 * DAY);
          const afterTen = await mail.waitFor((ms) => ms.filter((m) => /^Reminder/.test(m.Subject)).length >= 3, 'three reminders');
          const reminders = afterTen.filter((m) => /^Reminder/.test(m.Subject));
          assert.deepEqual(reminders.map((m) => m.Subject.match(/^Reminder (\d+)/)?.[1]), ['1', '2', '3']);
          assert.ok(reminders.every((m) => m.To[0].Address === 'billing@corp.example'));
          assert.match(reminders[0].Text, new RegExp(`--workflow-id erasure-${req.requestId} --name confirmDeletion --input '\\{"system":"legacy-billing","confirmedBy":"legacy-billing-team"\\}'`));

          await bed.env.sleep(21 * DAY);
          await bed.until(h, (s) => s.overdue, 'overdue');
          const all = await mail.waitFor(
            (ms) => ms.filter((m) => /confirmation due/.test(m.Subject)).length === 2 && ms.filter((m) => /deadline has passed/.test(m.Subject)).length === 2,
            'escalation and overdue notices to the contacts and the owner',
          );
          const due = all.filter((m) => /confirmation due/.test(m.Subject));
          const overdue = all.filter((m) => /deadline has passed/.test(m.Subject));
          assert.deepEqual(due.map((m) => m.To[0].Address).sort(), ['billing@corp.example', 'dpo@corp.example']);
          assert.deepEqual(overdue.map((m) => m.To[0].Address).sort(), ['billing@corp.example', 'dpo@corp.example']);
          const deadline = new Date(Date.parse(req.receivedAt) + req.plan.policy.deadlineDays * DAY).toISOString();
          assert.ok(overdue[0].Text.includes(`Deadline:  ${deadline}`), overdue[0].Text);
          assert.match(overdue[0].Text, /--name confirmDeletion/);

          await h.signal(confirmDeletionSignal, { system: 'legacy-billing', confirmedBy: 'billing-team' });
          await h.result();
          // Each reminder number once: no activity retry or replay sent one twice.
          const final = await mail.all();
          const numbers = final.map((m) => m.Subject.match(/^Reminder (\d+)/)?.[1]).filter(Boolean);
          assert.equal(new Set(numbers).size, numbers.length, `duplicate reminders: ${numbers.join(',')}`);
          assert.ok(numbers.length >= 9, `a reminder every 3 days over 31 days (got ${numbers.length})`);
          const hits = findIdentifiers(JSON.stringify(final), subject);
          assert.deepEqual(hits, [], describeHits(hits));
        },
        { notifySystem: real.notifySystem, sendReminder: real.sendReminder, escalate: real.escalate },
      );
    } finally {
      await dispatcher.stop();
    }
  });

  it('tells the consumer\'s owner and the escalation contacts when a critical consumer has not reported', async () => {
    await mail.clear();
    const db = await ledger.fresh();
    const catalog = parseCatalog(
      ['consumers:', '  - { id: archive, critical: true, timeout: 1d, notify: { email: [archive@corp.example] } }', 'escalation:', '  notify: { email: [dpo@corp.example] }'].join('\n'),
      'catalog.yaml',
      {},
    );
    const { dispatcher, real } = wire(db.pool, catalog);
    try {
      const req = input(plan([], { consumers: [{ id: 'archive', critical: true, timeoutDays: 1 }] }), await bed.now(), { subject });
      await bed.run(
        req,
        async () => {
          await bed.env.sleep(2 * DAY);
          const messages = await mail.waitFor((ms) => ms.length === 2, 'the escalation to the consumer and the contacts');
          assert.deepEqual(messages.map((m) => m.To[0].Address).sort(), ['archive@corp.example', 'dpo@corp.example']);
          assert.match(messages[0].Subject, new RegExp(`Escalation: erasure request ${req.requestId}, a critical consumer has not completed \\(archive\\)`));
          assert.match(messages[0].Text, new RegExp(`--workflow-id erasure-${req.requestId} --name consumerCompleted --input '\\{"consumer":"archive","status":"ok"\\}'`));
          assert.match(messages[0].Text, new RegExp(`/erasures/${req.requestId}/consumers/archive/complete`));
          const hits = findIdentifiers(JSON.stringify(messages), subject);
          assert.deepEqual(hits, [], describeHits(hits));
        },
        { escalate: real.escalate },
      );
    } finally {
      await dispatcher.stop();
    }
  });
});
