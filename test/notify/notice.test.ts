/**
 * The `notify` blocks of the catalog and what a notification says, without servers: bad addresses and URLs
 * are refused at load with their path named, and each message names the request, the system, the deadline
 * and the exact commands that act on it, which a real shell splits into the right words.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { CatalogError, loadCatalog, parseCatalog } from '../../src/catalog/load';
import { catalogOptions } from '../../src/config';
import { confirmCommands, shellQuote } from '../../src/domain';
import { renderNotice } from '../../src/notify/messages';
import { recipients } from '../../src/notify/notifier';

const ctx = { temporalAddress: '127.0.0.1:7233', namespace: 'default', publicUrl: 'https://erasure.corp.example' };

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseCatalog(text, 'catalog.yaml', env);
  } catch (err) {
    assert.ok(err instanceof CatalogError, String(err));
    return err.problems;
  }
  assert.fail('expected the catalog to be rejected');
}

/** How a POSIX shell splits a command line into words (no expansion of $VARS: they are single-quoted or unset here). */
function words(line: string): string[] {
  const out = execFileSync('sh', ['-c', `for w in ${line.replace(/^\S+/, '')}; do printf '%s\\0' "$w"; done`], { encoding: 'utf8', env: {} });
  return out.split('\0').slice(0, -1);
}

describe('notify blocks in the catalog', () => {
  it('accepts e-mail and webhook targets on systems, consumers and the escalation contacts', () => {
    const catalog = parseCatalog(
      [
        'systems:',
        '  - { id: billing, kind: manual, owner: billing-team, notify: { email: [billing@corp.example], webhook: { url: "${CHAT_URL}", secret: "${CHAT_SECRET}" } } }',
        'consumers:',
        '  - { id: archive, critical: true, notify: { email: [archive@corp.example] } }',
        'escalation:',
        '  notify: { email: [dpo@corp.example, privacy@corp.example] }',
      ].join('\n'),
      'catalog.yaml',
      { CHAT_URL: 'https://hooks.chat.example/T0/B0/XYZ', CHAT_SECRET: 'chat-secret-0123456789' },
    );
    assert.deepEqual(catalog.systems[0].notify, { email: ['billing@corp.example'], webhook: { url: 'https://hooks.chat.example/T0/B0/XYZ', secret: 'chat-secret-0123456789' } });
    assert.deepEqual(catalog.consumers[0].notify?.email, ['archive@corp.example']);
    assert.deepEqual(catalog.escalation?.notify.email, ['dpo@corp.example', 'privacy@corp.example']);
  });

  it('refuses a bad address, a bad URL, a short secret and an empty block, naming each path', () => {
    const found = problems(
      [
        'systems:',
        '  - { id: billing, kind: manual, owner: billing-team, notify: { email: [not-an-address] } }',
        '  - { id: crm, kind: webhook, url: "https://crm.example/erase", secret: "0123456789abcdef0", notify: { webhook: { url: "ftp://chat.example/x", secret: short } } }',
        'consumers:',
        '  - { id: archive, notify: {} }',
        'escalation:',
        '  notify: { email: [dpo@corp.example, DPO@corp.example], sms: ["+1555"] }',
      ].join('\n'),
    );
    const text = found.join('\n');
    assert.match(text, /systems\[0\]\.notify\.email\[0\]: must be an e-mail address/);
    assert.match(text, /systems\[1\]\.notify\.webhook\.url: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(text, /systems\[1\]\.notify\.webhook\.secret: must be at least 16 characters/);
    assert.match(text, /consumers\[0\]\.notify: give email/);
    assert.match(text, /escalation\.notify\.email: lists an address twice/);
    assert.match(text, /escalation\.notify\.sms: unknown key/);
  });

  it('refuses, in production, a chat webhook secret that is an example value shipped with the engine', () => {
    const text = ['escalation:', '  notify: { webhook: { url: "https://hooks.chat.example/T0/B0/X", secret: "${OPS_CHAT_SECRET}" } }'].join('\n');
    const env = { OPS_CHAT_SECRET: 'change-me-webhook-secret' };
    assert.doesNotThrow(() => parseCatalog(text, 'catalog.yaml', env, catalogOptions({ NODE_ENV: undefined })));
    try {
      parseCatalog(text, 'catalog.yaml', env, catalogOptions({ NODE_ENV: 'production' }));
      assert.fail('expected the example secret to be refused');
    } catch (err) {
      assert.ok(err instanceof CatalogError, String(err));
      assert.match(err.problems.join('\n'), /escalation\.notify\.webhook\.secret: environment variable OPS_CHAT_SECRET holds an example value/);
      assert.doesNotMatch(err.message, /change-me-webhook-secret/, 'the value is never repeated');
    }
  });

  it('loads the shipped example catalogs with their notify blocks', () => {
    const root = path.resolve(__dirname, '..', '..');
    const local = loadCatalog(path.join(root, 'examples', 'local-catalog.yaml'), { DEMO_DATABASE_URL: 'postgres://localhost/demo', DEMO_HMAC_KEY: 'demo-hmac-key-0123456789' });
    assert.deepEqual(local.systems.find((s) => s.id === 'legacy-billing')?.notify?.email, ['billing-team@example.com']);
    assert.deepEqual(local.escalation?.notify.email, ['privacy-ops@example.com']);
  });

  it('sends each address and each webhook once, whichever parties list them', () => {
    const hook = { url: 'https://hooks.example/a', secret: 'x'.repeat(16) };
    const to = recipients([
      { ref: 'escalation', notify: { email: ['dpo@corp.example'], webhook: hook } },
      { ref: 'system:billing', notify: { email: ['DPO@corp.example', 'billing@corp.example'], webhook: hook } },
    ]);
    assert.deepEqual(to, [
      { channel: 'email', target: 'dpo@corp.example' },
      { channel: 'webhook', target: 'escalation' },
      { channel: 'email', target: 'billing@corp.example' },
    ]);
  });
});

describe('notification messages', () => {
  const deadline = '2027-01-01T00:00:00.000Z';

  it('names the request, the system, its instructions, the deadline and the three confirm commands', () => {
    const n = renderNotice(
      {
        kind: 'manual_request',
        requestId: 'req-42',
        subjectRef: 'subj_abc',
        deadline,
        systems: [{ id: 'legacy-billing', kind: 'manual', confirmable: true, owner: 'billing-team', instructions: 'Purge the AS/400 ledger.' }],
        consumers: [],
      },
      ctx,
    );
    assert.match(n.subject, /req-42.*legacy-billing/);
    for (const part of ['req-42', 'erasure-req-42', 'legacy-billing', 'billing-team', deadline, 'Purge the AS/400 ledger.', 'subj_abc']) assert.ok(n.text.includes(part), part);
    const c = confirmCommands(ctx, 'req-42', 'legacy-billing', 'billing-team');
    for (const line of [c.temporal, c.tctl, c.curl]) assert.ok(n.text.includes(line), line);
    assert.deepEqual(words(c.temporal), ['workflow', 'signal', '--address', '127.0.0.1:7233', '--workflow-id', 'erasure-req-42', '--name', 'confirmDeletion', '--input', '{"system":"legacy-billing","confirmedBy":"billing-team"}']);
    assert.deepEqual(words(c.tctl), ['--address', '127.0.0.1:7233', 'workflow', 'signal', '-w', 'erasure-req-42', '-n', 'confirmDeletion', '-i', '{"system":"legacy-billing","confirmedBy":"billing-team"}']);
    const curl = words(c.curl);
    assert.equal(curl[curl.indexOf('-X') + 2], 'https://erasure.corp.example/erasures/req-42/confirmations');
    assert.equal(curl[curl.indexOf('-d') + 1], '{"system":"legacy-billing","confirmedBy":"billing-team"}');
    // Slack-compatible: fallback text and blocks of mrkdwn sections with the same commands.
    assert.ok(n.blocks.some((b) => b.type === 'section' && b.text.text.includes(c.temporal)));
  });

  it('asks for a retry, not a confirmation, when a system needs an operator', () => {
    const n = renderNotice({ kind: 'escalation', reason: 'needs_attention', requestId: 'req-7', deadline, systems: [{ id: 'crm', kind: 'webhook', confirmable: false }], consumers: [], detail: 'webhook refused the request (HTTP 400)' }, ctx);
    assert.match(n.subject, /Escalation.*req-7.*needs an operator/);
    assert.match(n.text, /--name retrySystem --input '\{"system":"crm"\}'/);
    assert.match(n.text, /\/erasures\/req-7\/systems\/crm\/retry/);
    assert.match(n.text, /HTTP 400/);
    assert.doesNotMatch(n.text, /confirmDeletion/);
  });

  it('lists every outstanding system and consumer of an overdue request with its command', () => {
    const n = renderNotice(
      { kind: 'escalation', reason: 'overdue', requestId: 'req-8', deadline, systems: [{ id: 'legacy-billing', kind: 'manual', confirmable: true, owner: 'billing' }], consumers: ['archive'] },
      { ...ctx, namespace: 'erasure-prod' },
    );
    assert.match(n.text, /the legal deadline has passed/);
    assert.match(n.text, /--namespace erasure-prod --workflow-id erasure-req-8 --name confirmDeletion/);
    assert.match(n.text, /--name consumerCompleted --input '\{"consumer":"archive","status":"ok"\}'/);
    assert.match(n.text, /\/erasures\/req-8\/consumers\/archive\/complete/);
  });

  it('quotes what the shell would otherwise split or expand', () => {
    assert.equal(shellQuote(`it's $HOME`), `'it'\\''s $HOME'`);
    const c = confirmCommands(ctx, 'req-9', 'billing', `O'Brien & co $HOME`);
    assert.equal(JSON.parse(words(c.temporal).at(-1)!).confirmedBy, `O'Brien & co $HOME`);
  });
});
