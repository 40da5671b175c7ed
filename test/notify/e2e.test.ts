/**
 * Notifications through the whole engine on real servers: the API, the worker and the go-installed Temporal
 * dev server (test/harness/stack.ts), with SMTP to a real mailpit and the chat webhook to a real receiver
 * that checks signatures. The commands in the mail are run as they are written: the `temporal` line with the
 * real CLI, the `curl` line's URL and body against the API.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { toolPaths } from '../../src/dev/servers';
import { defaultConnectors } from '../../src/systems/registry';
import { describeHits, findIdentifiers } from '../codec/pii-scan';
import { startMailbox, type Mailbox, type MailMessage } from '../harness/mailpit';
import { eventually, http as api, keys, startStack, type Stack } from '../harness/stack';
import { startChatReceiver, type ChatReceiver } from './chat-receiver';

const run = promisify(execFile);
const SECRET = 'chat-secret-for-e2e-0123456789';
const CRM_SECRET = 'crm-secret-for-e2e-0123456789';
const subjects: Array<Record<string, string>> = [
  { email: 'notify.person@example.org', userId: 'notify-user-4410', phone: '+15550107788' },
  { email: 'second.person@example.org', userId: 'notify-user-4411' },
  { email: 'third.person@example.org', userId: 'notify-user-4412' },
];

/** The words a POSIX shell makes of a command line (its first word dropped). */
const words = (line: string) => execFileSync('sh', ['-c', `for w in ${line.replace(/^\S+/, '')}; do printf '%s\\0' "$w"; done`], { encoding: 'utf8', env: {} }).split('\0').slice(0, -1);

describe('notifications end to end (API, worker, Temporal dev server, mailpit)', function () {
  let mail: Mailbox;
  let chat: ChatReceiver;
  let crm: http.Server;
  let crmStatus = 200;
  let stack: Stack;
  let call: ReturnType<typeof api>;

  before(async () => {
    mail = await startMailbox();
    chat = await startChatReceiver(SECRET);
    // The CRM's erasure endpoint (a webhook system in response mode): 2xx erases, 400 refuses for good.
    crm = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = crmStatus;
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => crm.listen(0, '127.0.0.1', resolve));
    const catalog = [
      'systems:',
      '  - id: legacy-billing',
      '    kind: manual',
      '    owner: billing-team',
      '    instructions: Delete the invoices from the billing archive.',
      '    notify:',
      '      email: [billing-team@corp.example]',
      `      webhook: { url: "${chat.url}", secret: "${SECRET}" }`,
      '  - id: crm',
      '    kind: webhook',
      `    url: http://127.0.0.1:${(crm.address() as AddressInfo).port}/erase`,
      `    secret: ${CRM_SECRET}`,
      '    send: commitment',
      '    notify: { email: [crm-owner@corp.example] }',
      'escalation:',
      '  notify: { email: [dpo@corp.example] }',
    ].join('\n');
    stack = await startStack({ catalog, connectors: { webhook: defaultConnectors.webhook }, env: { ...mail.env, SMTP_TLS: 'none', ENGINE_PUBLIC_URL: 'https://erasure.corp.example' } });
    call = api(stack, keys.all);
  });
  after(async () => {
    await stack?.stop();
    await mail?.stop();
    await chat?.close();
    await new Promise((r) => crm?.close(r));
  });

  async function submit(subject: Record<string, string>): Promise<string> {
    const res = await call('POST', '/erasures', { subject, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    return res.json.requestId as string;
  }
  const mailsFor = (ms: MailMessage[], requestId: string, to: string) => ms.filter((m) => m.Subject.includes(requestId) && m.To.some((t) => t.Address === to));
  const completed = (id: string) => eventually(async () => (await call('GET', `/erasures/${id}`)).json?.status === 'completed', 'completed', 60_000);

  it("sends the manual system's owner the request with the system, the deadline and the three commands; the temporal line confirms it", async () => {
    const id = await submit(subjects[0]);
    const [m] = mailsFor(await mail.waitFor((ms) => mailsFor(ms, id, 'billing-team@corp.example').length === 1, 'the request mail'), id, 'billing-team@corp.example');
    assert.match(m.Subject, new RegExp(`Erasure request ${id}: please erase the subject from legacy-billing`));
    const status = await call('GET', `/erasures/${id}`);
    assert.ok(m.Text.includes(`Deadline:  ${status.json.deadline}`), `deadline ${status.json.deadline} in:\n${m.Text}`);
    assert.match(m.Text, /Delete the invoices from the billing archive\./);
    const lines = m.Text.split('\n').map((l) => l.trim());
    const temporalLine = lines.find((l) => l.startsWith('temporal workflow signal'));
    const tctlLine = lines.find((l) => l.startsWith('tctl '));
    const curlLine = lines.find((l) => l.startsWith('curl '));
    assert.ok(temporalLine && tctlLine && curlLine, m.Text);
    assert.ok(tctlLine.includes(`-w erasure-${id} -n confirmDeletion`));
    assert.ok(curlLine.includes(`'https://erasure.corp.example/erasures/${id}/confirmations'`));

    // The chat webhook got the same request, signed.
    const chatCall = await eventually(async () => chat.calls.find((c) => c.body.includes(id)), 'the chat message');
    assert.ok(chatCall.verified);
    assert.ok(Array.isArray(chatCall.json?.blocks));

    // Run the line from the mail as written: the real temporal CLI, on PATH.
    await run('sh', ['-c', temporalLine], { env: { ...process.env, PATH: `${path.dirname(toolPaths().temporal)}:${process.env.PATH}` }, timeout: 60_000 });
    await completed(id);
  });

  it("confirms with the curl line's URL and body", async () => {
    const id = await submit(subjects[1]);
    const [m] = mailsFor(await mail.waitFor((ms) => mailsFor(ms, id, 'billing-team@corp.example').length === 1, 'the request mail'), id, 'billing-team@corp.example');
    const curl = words(m.Text.split('\n').map((l) => l.trim()).find((l) => l.startsWith('curl '))!);
    const url = new URL(curl[curl.indexOf('-X') + 2]);
    const body = JSON.parse(curl[curl.indexOf('-d') + 1]) as Record<string, unknown>;
    assert.deepEqual(body, { system: 'legacy-billing', confirmedBy: 'billing-team' });
    const res = await call('POST', url.pathname, body);
    assert.equal(res.status, 202, res.text);
    await completed(id);
  });

  it('tells the escalation contacts and the owner when a system needs an operator, with the retry commands', async () => {
    crmStatus = 400;
    try {
      const id = await submit(subjects[2]);
      const all = await mail.waitFor((ms) => mailsFor(ms, id, 'dpo@corp.example').length === 1 && mailsFor(ms, id, 'crm-owner@corp.example').length === 1, 'the needs_attention notices');
      const [m] = mailsFor(all, id, 'dpo@corp.example');
      assert.match(m.Subject, new RegExp(`Escalation: erasure request ${id}, needs an operator \\(crm\\)`));
      assert.match(m.Text, new RegExp(`temporal workflow signal --address ${stack.temporal.address.replace(/\./g, '\\.')} --workflow-id erasure-${id} --name retrySystem --input '\\{"system":"crm"\\}'`));
      assert.match(m.Text, new RegExp(`'https://erasure\\.corp\\.example/erasures/${id}/systems/crm/retry'`));
      assert.match(m.Text, /HTTP 400/);
    } finally {
      crmStatus = 200;
    }
  });

  it('leaves no identifier of any subject in any mail or chat message, nor in the notification queue', async () => {
    const messages = await mail.all();
    assert.ok(messages.length >= 5);
    const queued = await stack.engine.pool.query('SELECT * FROM notification_outbox');
    const text = JSON.stringify(messages) + chat.calls.map((c) => c.body).join('\n') + JSON.stringify(queued.rows);
    for (const s of subjects) {
      const hits = findIdentifiers(text, s);
      assert.deepEqual(hits, [], describeHits(hits));
    }
  });
});
