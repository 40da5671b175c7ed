/**
 * The HTTP API end to end: real PostgreSQL, the go-installed Temporal dev server, the engine's worker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { verifyCertificate, publicKeysFromJwks } from '../../src/certificate';
import { workflowIdFor } from '../../src/workflows/definitions';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const subject = { email: 'Jane.Doe@Example.com', userId: 'user-8841', phone: '+44 20 7946 0958' };
const identifiers = ['jane.doe@example.com', 'Jane.Doe@Example.com', 'user-8841', '+442079460958', '+44 20 7946 0958'];

describe('HTTP API (dev server, real worker)', function () {
  let stack: Stack;
  let api: ReturnType<typeof http>;

  before(async function () {
    stack = await startStack();
    api = http(stack, keys.all);
  });
  after(async () => {
    await stack?.stop();
  });

  const submit = (body: object, key = keys.all, headers: Record<string, string> = {}) => http(stack, key)('POST', '/erasures', body, headers);

  it('accepts a request with 202 once it is in the ledger, then the relay starts workflow erasure-<id> and its status comes from the workflow', async () => {
    const res = await submit({ subject, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    // The answer does not wait for Temporal: the request is queued in the ledger and the relay starts it.
    assert.equal(res.json.status, 'queued');
    assert.equal(res.json.workflowId, `erasure-${res.json.requestId}`);
    assert.deepEqual(res.json.links, { self: `/erasures/${res.json.requestId}`, certificate: `/erasures/${res.json.requestId}/certificate` });
    const desc = await eventually(async () => {
      const d = await stack.api.client.workflow.getHandle(res.json.workflowId).describe().catch(() => undefined);
      return d?.status.name === 'RUNNING' && d;
    }, 'the relay started the workflow', 10_000);
    assert.equal(desc.status.name, 'RUNNING');
    const status = await eventually(async () => {
      const s = await api('GET', `/erasures/${res.json.requestId}`);
      return s.json?.status === 'awaiting_confirmation' && s;
    }, 'awaiting confirmation');
    assert.equal(status.json.source, 'workflow');
    assert.deepEqual(status.json.pendingConfirmations, ['legacy-billing']);
  });

  it('answers the same idempotency key with 200 and the same request, and a different body with 409', async () => {
    const requestId = `idem-${randomUUID()}`;
    const first = await submit({ requestId, subject, jurisdiction: 'GDPR' });
    assert.equal(first.status, 202);
    const again = await submit({ subject, jurisdiction: 'GDPR' }, keys.all, { 'Idempotency-Key': requestId });
    assert.equal(again.status, 200);
    assert.equal(again.json.requestId, requestId);
    const different = await submit({ requestId, subject: { email: 'other@example.com' }, jurisdiction: 'GDPR' });
    assert.equal(different.status, 409);
    assert.match(different.json.detail, /different body/);
  });

  it('starts exactly one workflow for 20 concurrent identical submissions', async () => {
    const requestId = `burst-${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 20 }, () => submit({ requestId, subject, jurisdiction: 'CCPA' })));
    const codes = results.map((r) => r.status).sort();
    assert.equal(codes.filter((c) => c === 202).length, 1, `codes: ${codes}`);
    assert.equal(codes.filter((c) => c === 200).length, 19);
    const { rows } = await stack.engine.pool.query('SELECT count(*)::int AS n FROM requests WHERE request_id = $1', [requestId]);
    assert.equal(rows[0].n, 1);
    const runs = await eventually(async () => {
      const n = await stack.api.client.workflow.count(`WorkflowId = '${workflowIdFor(requestId)}'`);
      return n.count > 0 && n.count;
    }, 'visibility');
    assert.equal(runs, 1);
  });

  it('rejects bad input with 400 problem documents, oversize with 413 and wrong content types with 415', async () => {
    const badJson = await api('POST', '/erasures', '{"subject": ');
    assert.equal(badJson.status, 400);
    assert.equal(badJson.headers.get('content-type')?.startsWith('application/problem+json'), true);
    assert.match(badJson.json.detail, /not valid JSON/);

    const noIdentifier = await submit({ subject: {}, jurisdiction: 'GDPR' });
    assert.equal(noIdentifier.status, 400);
    assert.ok(noIdentifier.json.errors.some((e: { message: string }) => /at least one identifier/.test(e.message)));

    const badFields = await submit({ subject: { email: 'not-an-email' }, jurisdiction: 'MARS', extra: 1 });
    assert.equal(badFields.status, 400);
    const paths = badFields.json.errors.map((e: { path: string }) => e.path);
    assert.ok(paths.includes('body.subject.email'), paths.join());
    assert.ok(paths.includes('body.jurisdiction'), paths.join());
    assert.ok(!JSON.stringify(badFields.json).includes('not-an-email'), 'input values are not echoed');

    const big = await submit({ subject, jurisdiction: 'GDPR', notes: 'x'.repeat(100_000) });
    assert.equal(big.status, 413);

    const text = await api('POST', '/erasures', 'email=a@b.c', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);

    const badKey = await submit({ subject, jurisdiction: 'GDPR' }, keys.all, { 'Idempotency-Key': 'has spaces in it' });
    assert.equal(badKey.status, 400);
    assert.ok(badKey.json.errors.some((e: { path: string }) => e.path === 'headers.Idempotency-Key'), JSON.stringify(badKey.json.errors));

    const differ = await submit({ subject, jurisdiction: 'GDPR', requestId: 'body-id-1' }, keys.all, { 'Idempotency-Key': 'header-id-1' });
    assert.equal(differ.status, 422);
    assert.match(differ.json.detail, /requestId in the body and the Idempotency-Key header differ/);
    assert.equal((await api('GET', '/erasures/header-id-1')).status, 404, 'nothing was recorded');
  });

  it('enforces API keys and scopes with 401 and 403', async () => {
    assert.equal((await submit({ subject, jurisdiction: 'GDPR' }, '')).status, 401);
    assert.equal((await submit({ subject, jurisdiction: 'GDPR' }, 'wrong-key')).status, 401);
    const readOnly = await submit({ subject, jurisdiction: 'GDPR' }, keys.read);
    assert.equal(readOnly.status, 403);
    assert.match(readOnly.json.detail, /lacks the "intake" scope/);
    const created = await submit({ subject, jurisdiction: 'GDPR' }, keys.intake);
    assert.equal(created.status, 202);
    assert.equal((await http(stack, keys.intake)('GET', `/erasures/${created.json.requestId}`)).status, 403);
    assert.equal((await http(stack, keys.read)('GET', `/erasures/${created.json.requestId}`)).status, 200);
    assert.equal((await http(stack, keys.read)('POST', `/erasures/${created.json.requestId}/extend`, { days: 10, reason: 'x' })).status, 403);
    assert.equal((await http(stack)('GET', '/healthz')).status, 200);
  });

  it('runs operator actions through the workflow: 202 when accepted, 409 when the state forbids, 404 when unknown', async () => {
    const created = await submit({ subject, jurisdiction: 'GDPR' });
    const id = created.json.requestId;
    await eventually(async () => (await api('GET', `/erasures/${id}`)).json?.status === 'awaiting_confirmation', 'awaiting');
    const op = http(stack, keys.operator);
    assert.equal((await op('POST', `/erasures/nope-${randomUUID()}/extend`, { days: 5, reason: 'x' })).status, 404);
    // An unknown request is a 404 whatever its body; a bad path is a 400 before anything is looked up.
    assert.equal((await op('POST', `/erasures/nope-${randomUUID()}/extend`, { days: 'five' })).status, 404);
    assert.equal((await op('DELETE', `/erasures/nope-${randomUUID()}/legal-hold`)).status, 404);
    assert.equal((await op('POST', '/erasures/not%20an%20id/extend', { days: 5, reason: 'x' })).status, 400);
    assert.equal((await op('POST', `/erasures/${id}/extend`, { days: 'five' })).status, 400);
    assert.equal((await op('POST', `/erasures/${id}/extend`, { days: 30, reason: 'complex request' })).status, 202);
    const twice = await op('POST', `/erasures/${id}/extend`, { days: 5, reason: 'again' });
    assert.equal(twice.status, 409);
    assert.match(twice.json.detail, /already extended/);
    assert.equal((await op('POST', `/erasures/${id}/cancel`, { reason: 'withdrawn' })).status, 409);
    assert.equal((await op('POST', `/erasures/${id}/systems/legacy-billing/retry`, {})).status, 409);
    assert.equal((await op('POST', `/erasures/${id}/consumers/ghost/complete`, { status: 'ok' })).status, 409);
    assert.equal((await op('POST', `/erasures/${id}/legal-hold`, { reason: 'litigation', placedBy: 'legal' })).status, 202);
    assert.equal((await api('GET', `/erasures/${id}`)).json.status, 'on_hold');
    assert.equal((await op('DELETE', `/erasures/${id}/legal-hold`, { releasedBy: 'legal' })).status, 202);
    assert.equal((await op('POST', `/erasures/${id}/confirmations`, { system: 'unknown-system', confirmedBy: 'ops' })).status, 409);
    assert.equal((await op('POST', `/erasures/${id}/confirmations`, { system: 'legacy-billing', confirmedBy: 'ops', reference: 'T-1' })).status, 202);
    await eventually(async () => (await api('GET', `/erasures/${id}`)).json?.status === 'completed', 'completed');
    assert.equal((await op('POST', `/erasures/${id}/confirmations`, { system: 'legacy-billing', confirmedBy: 'ops' })).status, 409);

    const cert = await api('GET', `/erasures/${id}/certificate`);
    assert.equal(cert.status, 200);
    const jwksDoc = await http(stack)('GET', '/.well-known/jwks.json');
    const outcome = await verifyCertificate(cert.json, publicKeysFromJwks(jwksDoc.json));
    assert.equal(outcome.valid, true, JSON.stringify(outcome));
    for (const v of identifiers) assert.ok(!cert.text.includes(v), 'certificate carries no identifier');

    // Crypto-shredding once the workflow has closed: the key row goes, an audit event records it.
    await eventually(async () => {
      const { rows } = await stack.engine.pool.query(`SELECT 1 FROM events WHERE request_id = $1 AND type = 'data_key.destroyed'`, [id]);
      return rows.length === 1;
    }, 'data key destroyed');
    const { rows: live } = await stack.engine.pool.query('SELECT 1 FROM data_keys WHERE request_id = $1', [id]);
    assert.equal(live.length, 0);
    assert.equal((await api('GET', `/erasures/${id}`)).json.status, 'completed', 'a shredded request still answers from the ledger');
  });

  it('lists erasures from Temporal visibility by status', async () => {
    const created = await submit({ subject, jurisdiction: 'CCPA' });
    await eventually(async () => {
      const list = await api('GET', '/erasures?status=awaiting_confirmation&jurisdiction=CCPA&pageSize=200');
      return list.json?.items?.some((i: { requestId: string }) => i.requestId === created.json.requestId);
    }, 'listed');
    const bad = await api('GET', '/erasures?status=bogus');
    assert.equal(bad.status, 400);
    const page = await api('GET', '/erasures?pageSize=1');
    assert.equal(page.json.items.length, 1);
    assert.ok(page.json.nextPageToken);
    const next = await api('GET', `/erasures?pageSize=1&pageToken=${page.json.nextPageToken}`);
    assert.equal(next.status, 200);
    assert.notEqual(next.json.items[0]?.requestId, page.json.items[0].requestId);
    // A token this list never gave out is the caller's mistake, not an outage.
    const forged = await api('GET', '/erasures?pageSize=1&pageToken=bm90LWEtcmVhbC10b2tlbg');
    assert.equal(forged.status, 400, forged.text);
    assert.match(forged.json.detail, /page token is not one this list gave out/);
    const otherFilters = await api('GET', `/erasures?pageSize=1&jurisdiction=CCPA&pageToken=${page.json.nextPageToken}`);
    assert.equal(otherFilters.status, 400, 'a token belongs to the filters it was given out for');
  });

  it('serves health, readiness, metrics and an OpenAPI 3.1 document', async () => {
    const anon = http(stack);
    assert.deepEqual((await anon('GET', '/readyz')).json, { ready: true });
    assert.deepEqual((await api('GET', '/readyz')).json, { ready: true, checks: { database: 'ok', temporal: 'ok' } });
    const doc = (await anon('GET', '/openapi.json')).json;
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/erasures'].post.requestBody.content['application/json'].schema.properties.subject);
    assert.ok(doc.paths['/erasures'].post.parameters.some((p: { name: string; in: string }) => p.name === 'Idempotency-Key' && p.in === 'header'));
    const extend = doc.paths['/erasures/{id}/extend'].post;
    assert.deepEqual(extend.security, [{ bearer: ['extend'] }, { apiKey: ['extend'] }], 'each action has its own scope');
    for (const status of ['202', '400', '401', '403', '404', '409', '503']) assert.ok(extend.responses[status], `extend documents ${status}`);
    assert.equal(extend.responses['409'].content['application/problem+json'].schema.$ref, '#/components/schemas/Problem');
    assert.equal(doc.paths['/healthz'].get.security, undefined, 'public routes need no key');
    const metrics = (await anon('GET', '/metrics')).text;
    assert.match(metrics, /erasure_http_requests_total\{method="POST",route="\/erasures",status="202"\} \d+/);
    assert.match(metrics, /erasure_open\{status="erasing"\} [1-9]\d*/);
    assert.equal((await anon('GET', '/nothing-here')).status, 404);
  });

  it('answers an operator action with 503 while Temporal is down and logs the 5xx with its cause, not the body', async () => {
    const created = await submit({ subject, jurisdiction: 'GDPR' });
    const id = created.json.requestId;
    await eventually(async () => (await api('GET', `/erasures/${id}`)).json?.status === 'awaiting_confirmation', 'awaiting');
    const reason = 'reason-that-stays-out-of-logs-7731';
    await stack.stopTemporal();
    try {
      const res = await http(stack, keys.operator)('POST', `/erasures/${id}/extend`, { days: 5, reason });
      assert.equal(res.status, 503, res.text);
      assert.equal(res.headers.get('content-type')?.startsWith('application/problem+json'), true);
      assert.match(res.json.detail, /Temporal did not answer/);
      const lines = stack.logs.map((l) => JSON.parse(l)).filter((l) => l.reqId === res.json.requestId && l.level === 50);
      assert.equal(lines.length, 1, 'one error line for the 5xx');
      const [line] = lines;
      assert.equal(line.status, 503);
      assert.equal(line.route, '/erasures/:id/extend');
      assert.match(line.err.message, /Temporal did not answer/);
      assert.equal(typeof line.cause?.name, 'string', JSON.stringify(line));
      assert.ok(line.cause.message.length > 0, 'the cause says what Temporal answered');
      assert.ok(!JSON.stringify(line).includes(reason), 'the request body is not logged');
    } finally {
      await stack.startTemporal();
    }
  });

  it('keeps a request accepted while Temporal is down and starts it once Temporal is back (outbox)', async () => {
    await stack.stopTemporal();
    const res = await submit({ subject, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.json.status, 'queued');
    const queued = await api('GET', `/erasures/${res.json.requestId}`);
    assert.equal(queued.json.status, 'queued');
    const sealed = await stack.engine.pool.query('SELECT pending_input::text AS t FROM requests WHERE request_id = $1', [res.json.requestId]);
    assert.match(sealed.rows[0].t, /binary\/encrypted|YmluYXJ5L2VuY3J5cHRlZA/, 'the queued input is encrypted');
    for (const v of identifiers) assert.ok(!sealed.rows[0].t.includes(v), 'no identifier in the queued input');
    await stack.startTemporal();
    await eventually(async () => (await api('GET', `/erasures/${res.json.requestId}`)).json?.status === 'awaiting_confirmation', 'relay started the workflow', 90_000);
    const { rows } = await stack.engine.pool.query('SELECT pending_input FROM requests WHERE request_id = $1', [res.json.requestId]);
    assert.equal(rows[0].pending_input, null, 'identifiers leave the ledger once the workflow holds them');
  });

  // Last, so that it scans what every test above logged: 5xx causes, the relay, the queued path.
  it('never writes a subject identifier to the logs', async () => {
    const all = stack.logs.join('\n');
    assert.ok(stack.logs.length > 20, 'the run logged');
    for (const v of identifiers) assert.ok(!all.includes(v), `logs contain ${v}`);
  });
});
