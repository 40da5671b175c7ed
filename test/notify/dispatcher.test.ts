/**
 * Notifications from the queue to real receivers: the engine database (PostgreSQL), a real mail server
 * (mailpit) and a real chat webhook receiver that checks signatures. Queued once however often an activity
 * is retried, delivered once, retried with backoff while the mail server is down and delivered when it is
 * back, and a recipient refused for good is marked failed, with the reason, without holding up the others.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { createAttestor } from '../../src/attestation';
import { parseCatalog } from '../../src/catalog/load';
import type { Catalog } from '../../src/catalog/schema';
import { createActivityAudit } from '../../src/ledger/audit';
import { listEvents } from '../../src/ledger/events';
import { emailChannel } from '../../src/notify/channels';
import { NOTIFICATION_FAILED_EVENT, startNotificationDispatcher, type NotificationDispatcher } from '../../src/notify/dispatcher';
import { registerNotificationMetrics } from '../../src/notify/metrics';
import { notificationQueue } from '../../src/notify/notifier';
import { freePort } from '../../src/dev/servers';
import { useLedgerDatabase, type LedgerDb } from '../harness/ledger';
import { capturingLogger } from '../harness/logs';
import { startMailbox, type Mailbox } from '../harness/mailpit';
import { startChatReceiver, verifySignature, type ChatReceiver } from './chat-receiver';

const SECRET = 'chat-secret-for-tests-0123456789';
const ctx = { temporalAddress: '127.0.0.1:7233', namespace: 'default', publicUrl: 'http://localhost:3000' };
const deadline = '2027-03-01T00:00:00.000Z';

describe('notification dispatcher (PostgreSQL, mailpit, a signed webhook receiver)', function () {
  const ledger = useLedgerDatabase();
  let mail: Mailbox;
  let chat: ChatReceiver;
  const running: NotificationDispatcher[] = [];

  before(async () => {
    // Mail to corp.example is taken; any other domain is refused for good (SMTP 550), as a real server would.
    mail = await startMailbox({ allowedRecipients: '@corp\\.example$' });
    chat = await startChatReceiver(SECRET);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()));
  });
  after(async () => {
    await mail?.stop();
    await chat?.close();
  });
  beforeEach(async () => {
    await mail.clear();
    chat.calls.length = 0;
    chat.status = 200;
  });

  function catalogFor(webhookSecret = SECRET): Catalog {
    return parseCatalog(
      [
        'systems:',
        '  - id: legacy-billing',
        '    kind: manual',
        '    owner: billing-team',
        '    notify:',
        '      email: [billing@corp.example]',
        '      webhook: { url: "${CHAT_URL}", secret: "${CHAT_SECRET}" }',
        'escalation:',
        '  notify: { email: [dpo@corp.example, nobody@elsewhere.example] }',
      ].join('\n'),
      'catalog.yaml',
      { CHAT_URL: chat.url, CHAT_SECRET: webhookSecret },
    );
  }

  async function wired(db: LedgerDb, catalog: Catalog, smtpPort = mail.server.smtpPort) {
    const { logger, raw } = capturingLogger();
    const registry = new Registry();
    const audit = createActivityAudit({ pool: db.pool, attestor: createAttestor(createSecretKey(randomBytes(32))) });
    const dispatcher = startNotificationDispatcher({
      pool: db.pool,
      catalog,
      email: emailChannel({ host: '127.0.0.1', port: smtpPort, from: 'erasure@corp.example', tls: 'none' }),
      audit,
      logger,
      minBackoffMs: 100,
      maxBackoffMs: 400,
      pollMs: 100,
      onOutcome: registerNotificationMetrics(registry, db.pool),
    });
    running.push(dispatcher);
    const queue = notificationQueue({ pool: db.pool, catalog, commands: ctx, logger, onQueued: () => dispatcher.wake() });
    return { queue, dispatcher, registry, logs: raw };
  }

  const rows = async (db: LedgerDb) =>
    (await db.pool.query<{ channel: string; target: string; status: string; attempts: number; last_error: string | null }>('SELECT channel, target, status, attempts, last_error FROM notification_outbox ORDER BY id')).rows;

  async function until<T>(fn: () => Promise<T | false | undefined>, what: string, ms = 30_000): Promise<T> {
    const stop = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > stop) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('delivers a reminder once by e-mail and once as a signed Slack-compatible webhook, however often it is queued', async () => {
    const db = await ledger.fresh();
    const { queue } = await wired(db, catalogFor());
    const reminder = { requestId: 'req-remind', systemId: 'legacy-billing', owner: 'billing-team', remindersSent: 1, deadline };
    assert.equal(await queue.remind(reminder), 2);
    // A retried activity queues the same notifications again: nothing new.
    assert.equal(await queue.remind(reminder), 0);
    await until(async () => (await rows(db)).every((r) => r.status === 'sent') && chat.calls.length > 0, 'both delivered');
    const [m] = await mail.waitFor((ms) => ms.length === 1, 'the reminder mail');
    assert.deepEqual(m.To.map((t) => t.Address), ['billing@corp.example']);
    assert.match(m.Subject, /Reminder 1: erasure request req-remind still waits for legacy-billing/);
    assert.match(m.Text, /Deadline: {2}2027-03-01T00:00:00.000Z/);
    assert.match(m.Text, /temporal workflow signal --address 127\.0\.0\.1:7233 --workflow-id erasure-req-remind --name confirmDeletion/);
    assert.match(m.Text, /tctl --address 127\.0\.0\.1:7233 workflow signal -w erasure-req-remind -n confirmDeletion/);
    assert.match(m.Text, /curl -s -X POST 'http:\/\/localhost:3000\/erasures\/req-remind\/confirmations'/);

    assert.equal(chat.calls.length, 1);
    const call = chat.calls[0];
    assert.ok(call.verified, 'signature verifies under the shared secret');
    assert.equal(typeof call.json?.text, 'string');
    assert.ok(Array.isArray(call.json?.blocks) && call.json.blocks.length > 0);
    assert.match(String(call.json?.text), /erasure-req-remind/);
    // The same signature does not verify under another secret, nor for another body.
    const ts = call.headers['x-erasure-timestamp'] as string;
    const sig = call.headers['x-erasure-signature'] as string;
    assert.equal(verifySignature('another-secret-0123456789', ts, call.body, sig), false);
    assert.equal(verifySignature(SECRET, ts, call.body.replace('req-remind', 'req-other'), sig), false);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await mail.list()).length, 1, 'no duplicate mail');
    assert.equal(chat.calls.length, 1, 'no duplicate webhook call');
  });

  it('marks a webhook signed with the wrong secret failed (the receiver refuses it) and records why', async () => {
    const db = await ledger.fresh();
    const { queue, registry } = await wired(db, catalogFor('a-different-secret-0123456789'));
    await queue.requestErasure({ requestId: 'req-badsig', subjectRef: 'subj_x', systemId: 'legacy-billing' });
    const failed = await until(async () => (await rows(db)).find((r) => r.channel === 'webhook' && r.status === 'failed'), 'webhook failed');
    assert.equal(chat.calls.length, 1);
    assert.equal(chat.calls[0].verified, false);
    assert.match(failed.last_error ?? '', /HTTP 401/);
    assert.doesNotMatch(failed.last_error ?? '', /secret-path/, 'the URL (which may hold a token) is not in the error');
    // The e-mail to the same owner was delivered all the same.
    await mail.waitFor((ms) => ms.length === 1, 'the request mail');
    const trail = await until(async () => (await listEvents(db.pool, 'req-badsig')).filter((e) => e.type === NOTIFICATION_FAILED_EVENT), 'audit event');
    assert.equal(trail.length, 1);
    assert.match(String((trail[0].detail as { reason?: string }).reason), /HTTP 401/);
    const metrics = await registry.metrics();
    assert.match(metrics, /erasure_notifications\{status="failed"\} 1/);
    assert.match(metrics, /erasure_notification_attempts_total\{channel="webhook",outcome="failed"\} 1/);
  });

  it('marks a recipient the mail server refuses for good failed with the reason, and delivers to the others', async () => {
    const db = await ledger.fresh();
    const { queue } = await wired(db, catalogFor());
    await queue.escalate({ requestId: 'req-esc', reason: 'needs_attention', deadline, systemIds: ['legacy-billing'], message: 'the system refused the request' });
    const all = await until(async () => {
      const r = await rows(db);
      return r.length === 4 && r.every((x) => x.status !== 'pending') && r;
    }, 'every notification settled');
    const byTarget = Object.fromEntries(all.map((r) => [r.target, r]));
    assert.equal(byTarget['nobody@elsewhere.example'].status, 'failed');
    assert.match(byTarget['nobody@elsewhere.example'].last_error ?? '', /SMTP 550/);
    assert.equal(byTarget['dpo@corp.example'].status, 'sent');
    assert.equal(byTarget['billing@corp.example'].status, 'sent');
    assert.equal(byTarget['system:legacy-billing'].status, 'sent');
    const messages = await mail.waitFor((ms) => ms.length === 2, 'two mails');
    assert.deepEqual(messages.map((m) => m.To[0].Address).sort(), ['billing@corp.example', 'dpo@corp.example']);
    assert.match(messages[0].Subject, /Escalation: erasure request req-esc, needs an operator \(legacy-billing\)/);
    assert.match(messages[0].Text, /--name retrySystem --input '\{"system":"legacy-billing"\}'/);
    const trail = await listEvents(db.pool, 'req-esc');
    assert.equal(trail.filter((e) => e.type === NOTIFICATION_FAILED_EVENT).length, 1);
  });

  it('keeps retrying while the mail server is down and delivers each notification once when it is back', async () => {
    const db = await ledger.fresh();
    const smtpPort = await freePort();
    const httpPort = await freePort();
    let down: Mailbox | undefined = await startMailbox({ smtpPort, httpPort });
    await down.stop();
    down = undefined;
    const { queue, logs } = await wired(db, catalogFor(), smtpPort);
    for (const n of [1, 2, 3]) await queue.remind({ requestId: `req-down-${n}`, systemId: 'legacy-billing', owner: 'billing-team', remindersSent: 1, deadline });
    await until(async () => {
      const r = (await rows(db)).filter((x) => x.channel === 'email');
      return r.length === 3 && r.every((x) => x.status === 'pending' && x.attempts >= 2 && /ECONNECTION|ECONNREFUSED|ESOCKET/.test(x.last_error ?? ''));
    }, 'retries while SMTP is down');
    assert.ok(logs.some((l) => l.includes('will retry')));
    const back = await startMailbox({ smtpPort, httpPort });
    try {
      const messages = await back.waitFor((ms) => ms.length === 3, 'the three mails after the outage');
      assert.deepEqual(messages.map((m) => m.Subject.match(/req-down-\d/)?.[0]).sort(), ['req-down-1', 'req-down-2', 'req-down-3']);
      await until(async () => (await rows(db)).every((r) => r.status === 'sent'), 'all marked sent');
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await back.list()).length, 3, 'no duplicate after recovery');
    } finally {
      await back.stop();
    }
  });
});
