import assert from 'node:assert/strict';
import type http from 'node:http';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook, webhookConnector, type WebhookPayload } from '../../src/systems/webhook/connector';
import type { WebhookSystem } from '../../src/systems/webhook';
import { freePort } from '../../src/dev/servers';
import { serve } from '../harness/serve';
import { alice, assertNoPii, assertNonRetryable, assertRetryable, derivedTaskFor, failure, oldStyleTaskFor, system, taskFor } from './helpers';

const secret = 'webhook-signing-secret-0123';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver on loopback; `answer` decides each response. */
async function receiver(answer: (req: Received, n: number) => { status: number; body?: string; delayMs?: number }) {
  const received: Received[] = [];
  const served = await serve((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const r = { headers: req.headers, body };
      received.push(r);
      const a = answer(r, received.length);
      setTimeout(() => {
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(a.body ?? '');
      }, a.delayMs ?? 0);
    });
  });
  return { url: `${served.url}/gdpr/erase`, received, close: served.close };
}

const entry = (url: string, extra: Record<string, unknown> = {}): WebhookSystem =>
  system({ id: 'crm', kind: 'webhook', url, secret, confirmation: 'response', timeout: 500, ...extra });

describe('Webhook connector (real HTTP receiver)', () => {
  it('POSTs signed JSON with an Idempotency-Key; a 2xx means erased, with the counts the receiver reports', async () => {
    const rx = await receiver(() => ({ status: 200, body: JSON.stringify({ found: 3, erased: 3 }) }));
    try {
      const sys = entry(rx.url);
      const task = taskFor(sys, alice, 'req-webhook-1');
      const r = await webhookConnector(sys).erase(task);
      assert.equal(r.action, 'webhook');
      assert.equal(r.found, 3);
      assert.equal(r.erased, 3);
      assert.equal(rx.received.length, 1);
      const { headers, body } = rx.received[0];
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(headers['idempotency-key'], 'req-webhook-1:crm:erase');
      assert.equal(headers[SIGNATURE_HEADER.toLowerCase()], signWebhook(secret, String(headers[TIMESTAMP_HEADER.toLowerCase()]), body));
      const payload = JSON.parse(body) as WebhookPayload;
      assert.equal(payload.requestId, 'req-webhook-1');
      assert.equal(payload.workflowId, 'erasure-req-webhook-1');
      assert.equal(payload.action, 'erase');
      assert.deepEqual(payload.identifiers, { email: alice.email, userId: alice.userId, phone: alice.phone });
      assert.deepEqual(await webhookConnector(sys).verify(task), { remaining: 0 });
    } finally {
      await rx.close();
    }
  });

  it('erases and verifies with a plan recorded before the allow-list (the whole entry minus the old deny-list), sending the same bytes as with one of today', async () => {
    const rx = await receiver((r) => ({ status: 200, body: JSON.stringify(JSON.parse(r.body).action === 'verify' ? { remaining: 0 } : { found: 2, erased: 2 }) }));
    try {
      const sys = entry(rx.url, { verify: true, send: 'commitment' });
      const fixed = new Date('2026-01-02T03:04:05Z');
      const conn = webhookConnector(sys, { now: () => fixed });
      const old = oldStyleTaskFor(sys, alice, 'req-webhook-old');
      assert.equal(old.system.spec.url, rx.url, 'the old spec carries the URL the allow-list leaves out');
      const oldErased = await conn.erase(old);
      assert.deepEqual(await conn.verify(old), { remaining: 0 });
      const today = taskFor(sys, alice, 'req-webhook-old');
      const todayErased = await conn.erase(today);
      assert.deepEqual(await conn.verify(today), { remaining: 0 });
      assert.deepEqual([oldErased.found, oldErased.erased], [2, 2]);
      assert.equal(oldErased.evidenceHash, todayErased.evidenceHash, 'the same evidence as a plan of today');
      assert.equal(rx.received.length, 4);
      const [oldErase, oldVerify, todayErase, todayVerify] = rx.received;
      assert.equal(oldErase.body, todayErase.body);
      assert.equal(oldVerify.body, todayVerify.body);
      for (const h of ['idempotency-key', SIGNATURE_HEADER.toLowerCase(), TIMESTAMP_HEADER.toLowerCase()]) {
        assert.equal(oldErase.headers[h], todayErase.headers[h], h);
        assert.equal(oldVerify.headers[h], todayVerify.headers[h], h);
      }
      assert.equal((JSON.parse(oldErase.body) as WebhookPayload).identifiers, undefined, 'send: commitment from the old spec still holds');
      assertNoPii(oldErase.body, alice);
    } finally {
      await rx.close();
    }
  });

  it('sends only the subject reference when the catalog says commitment', async () => {
    const rx = await receiver(() => ({ status: 204 }));
    try {
      const sys = entry(rx.url, { send: 'commitment' });
      await webhookConnector(sys).erase(taskFor(sys, alice, 'req-webhook-2'));
      const payload = JSON.parse(rx.received[0].body) as WebhookPayload;
      assert.equal(payload.identifiers, undefined);
      assert.equal(payload.subjectRef, 'subj_req-webhook-2');
      assertNoPii(rx.received[0].body, alice);
    } finally {
      await rx.close();
    }
  });

  it('sends derived identifiers apart from the request\'s own (the request\'s value wins), and none with send: commitment', async () => {
    const rx = await receiver(() => ({ status: 200 }));
    try {
      const sys = entry(rx.url);
      const conn = webhookConnector(sys);
      await conn.erase(derivedTaskFor(sys, { email: 'only-mail@example.com' }, { userId: ['cust-17', 'cust-18', 'cust-17'], phone: [] }, 'req-webhook-derived'));
      await conn.erase(derivedTaskFor(sys, alice, { userId: ['cust-17'] }));
      await conn.erase(taskFor(sys, alice));
      const [derived, own, none] = rx.received.map((r) => JSON.parse(r.body) as WebhookPayload);
      assert.deepEqual(derived.identifiers, { email: 'only-mail@example.com' });
      assert.deepEqual(derived.derived, { userId: ['cust-17', 'cust-18'] }, 'every value, marked as derived');
      assert.deepEqual(own.identifiers, { email: alice.email, userId: alice.userId, phone: alice.phone });
      assert.equal(own.derived, undefined, 'Alice\'s own userId wins over the derived one');
      assert.equal('derived' in none, false, 'no derived key when nothing was derived');

      const commitment = entry(rx.url, { send: 'commitment' });
      await webhookConnector(commitment).erase(derivedTaskFor(commitment, { email: 'only-mail@example.com' }, { userId: ['cust-17', 'cust-18'] }));
      const body = rx.received[3].body;
      assert.equal((JSON.parse(body) as WebhookPayload).derived, undefined);
      assertNoPii(body, { email: 'only-mail@example.com', userId: 'cust-17' }, { userId: 'cust-18' });
    } finally {
      await rx.close();
    }
  });

  it('preview counts nothing and sends nothing: the receiver erases its own data', async () => {
    const rx = await receiver(() => ({ status: 200 }));
    try {
      for (const confirmation of ['response', 'signal']) {
        const sys = entry(rx.url, { confirmation });
        const preview = await webhookConnector(sys).preview!(taskFor(sys, alice));
        assert.deepEqual(preview.entries, []);
        assert.match(preview.note ?? '', /the receiver erases its own data/);
        assertNoPii(preview.note!, alice);
      }
      assert.equal(rx.received.length, 0);
    } finally {
      await rx.close();
    }
  });

  it('keeps the same Idempotency-Key when a call is retried after a 5xx', async () => {
    const rx = await receiver((_, n) => ({ status: n === 1 ? 503 : 200 }));
    try {
      const sys = entry(rx.url);
      const task = taskFor(sys, alice, 'req-webhook-3');
      const conn = webhookConnector(sys);
      assertRetryable(await failure(conn.erase(task)), 'crm');
      await conn.erase(task);
      assert.equal(rx.received.length, 2);
      assert.equal(rx.received[0].headers['idempotency-key'], rx.received[1].headers['idempotency-key']);
    } finally {
      await rx.close();
    }
  });

  it('classifies answers: 4xx permanent except 408 and 429; 5xx, timeouts and refused connections retryable', async () => {
    const cases: Array<[number, 'permanent' | 'retry']> = [[400, 'permanent'], [401, 'permanent'], [404, 'permanent'], [422, 'permanent'], [408, 'retry'], [429, 'retry'], [500, 'retry'], [502, 'retry']];
    for (const [status, expected] of cases) {
      const rx = await receiver(() => ({ status, body: JSON.stringify({ echo: alice.email }) }));
      try {
        const sys = entry(rx.url);
        const err = await failure(webhookConnector(sys).erase(taskFor(sys, alice)));
        if (expected === 'permanent') assertNonRetryable(err, 'crm', `HTTP ${status}`);
        else assertRetryable(err, 'crm');
        assertNoPii(err.message, alice);
      } finally {
        await rx.close();
      }
    }
    const slow = await receiver(() => ({ status: 200, delayMs: 2_000 }));
    try {
      const sys = entry(slow.url, { timeout: 200 });
      const err = await failure(webhookConnector(sys).erase(taskFor(sys, alice)));
      assertRetryable(err, 'crm');
      assert.match(err.message, /TIMEOUT|Timeout/);
    } finally {
      await slow.close();
    }
    const sys = entry(`http://127.0.0.1:${await freePort()}/x`);
    const refused = await failure(webhookConnector(sys).erase(taskFor(sys, alice)));
    assertRetryable(refused, 'crm');
    assert.match(refused.message, /ECONNREFUSED/);
  });

  it('does not follow redirects (identifiers would go to a host the catalog never named)', async () => {
    const rx = await receiver(() => ({ status: 307 }));
    try {
      const sys = entry(rx.url);
      assertNonRetryable(await failure(webhookConnector(sys).erase(taskFor(sys, alice))), 'crm', 'redirect');
    } finally {
      await rx.close();
    }
  });

  it('signal mode: notify only announces, and says so in the payload', async () => {
    const rx = await receiver(() => ({ status: 202 }));
    try {
      const sys = entry(rx.url, { confirmation: 'signal' });
      await webhookConnector(sys).notify!(taskFor(sys, alice, 'req-webhook-4'));
      const payload = JSON.parse(rx.received[0].body) as WebhookPayload;
      assert.equal(payload.confirmation, 'signal');
      assert.equal(payload.workflowId, 'erasure-req-webhook-4');
    } finally {
      await rx.close();
    }
  });

  it('verify: true asks the receiver to count what remains', async () => {
    const rx = await receiver((r) => ({ status: 200, body: JSON.stringify(JSON.parse(r.body).action === 'verify' ? { remaining: 2 } : {}) }));
    try {
      const sys = entry(rx.url, { verify: true });
      assert.deepEqual(await webhookConnector(sys).verify(taskFor(sys, alice)), { remaining: 2 });
      assert.equal(rx.received[0].headers['idempotency-key']?.toString().endsWith(':verify'), true);
    } finally {
      await rx.close();
    }
  });

  it('check() reports whether the receiver accepts connections, without POSTing', async () => {
    const rx = await receiver(() => ({ status: 200 }));
    try {
      assert.match(await webhookConnector(entry(rx.url)).check(), /accepts connections/);
      assert.equal(rx.received.length, 0);
    } finally {
      await rx.close();
    }
    assertRetryable(await failure(webhookConnector(entry(`http://127.0.0.1:${await freePort()}/`)).check()), 'crm');
  });
});
