import assert from 'node:assert/strict';
import { Client } from 'pg';
import { defaultPayloadConverter } from '@temporalio/common';
import { createCodecServer } from '../../src/codec/server';
import { shredRequestKey } from '../../src/codec/shred';
import { createCodecAudit } from '../../src/ledger/codec-audit';
import { useLedgerDatabase } from '../harness/ledger';
import { serve } from '../harness/serve';
import { startAuditedCodecServer, keys, pathToken, type AuditedCodecServer } from './audited-server';
import { fromWire, toWire, type WirePayload } from './harness';
import { findIdentifiers } from './pii-scan';

const subjects = {
  a: { email: 'dorothy.vaughan@example.com', userId: 'dv-1910' },
  b: { email: 'christine.darden@example.com', userId: 'cd-1942' },
  c: { email: 'annie.easley@example.com', userId: 'ae-1933' },
};
const allIdentifiers = Object.values(subjects).flatMap((s) => Object.values(s));
const values = (body: { payloads: WirePayload[] }) => body.payloads.map((p) => defaultPayloadConverter.fromPayload(fromWire(p)));

describe('codec server audit trail: who decoded which requests (real PostgreSQL, the API wiring)', () => {
  const ledger = useLedgerDatabase();
  let codec: AuditedCodecServer;
  const sealed: Record<string, WirePayload> = {};

  before(async () => {
    codec = await startAuditedCodecServer(ledger);
    sealed.a1 = await codec.seal({ requestId: 'req-a', subject: subjects.a, subjectRef: 'ref-a' });
    sealed.a2 = await codec.seal({ requestId: 'req-a', system: 'legacy-billing', note: `asked by ${subjects.a.email}` });
    sealed.b1 = await codec.seal({ requestId: 'req-b', subject: subjects.b, subjectRef: 'ref-b' });
    sealed.c1 = await codec.seal({ requestId: 'req-c', subject: subjects.c, subjectRef: 'ref-c' });
    sealed.noRequest = await codec.seal({ status: 'ok' }); // the default key: belongs to no request
  });
  after(async () => {
    await codec?.close();
  });

  it('records api-key:<name> once per request it decoded, with the payload count, and nothing for a request not in the call', async () => {
    const mark = await codec.mark();
    const plain = toWire(defaultPayloadConverter.toPayload({ requestId: 'req-plain', note: 'sent in plaintext' }));
    const res = await codec.post('/decode', [sealed.a1, sealed.b1, sealed.a2, sealed.noRequest, plain], { 'x-api-key': keys.alice });
    assert.equal(res.status, 200);
    const decoded = values((await res.json()) as { payloads: WirePayload[] });
    assert.deepEqual(decoded[0], { requestId: 'req-a', subject: subjects.a, subjectRef: 'ref-a' });
    assert.deepEqual(decoded[1], { requestId: 'req-b', subject: subjects.b, subjectRef: 'ref-b' });
    const detail = { actor: 'api-key:ops-alice', via: 'codec-server', namespace: 'default' };
    assert.deepEqual(await codec.decodedSince(mark), [
      { requestId: 'req-a', detail: { ...detail, payloads: 2 } },
      { requestId: 'req-b', detail: { ...detail, payloads: 1 } },
    ]);
  });

  it('names the key the same way when it comes as a bearer token, and refuses a key without the operator scope', async () => {
    const mark = await codec.mark();
    assert.equal((await codec.post('/decode', [sealed.c1], { authorization: `Bearer ${keys.alice}` })).status, 200);
    const refused = await codec.post('/decode', [sealed.b1], { 'x-api-key': keys.reader });
    assert.equal(refused.status, 401);
    assert.deepEqual(findIdentifiers(await refused.text(), allIdentifiers), []);
    assert.deepEqual(await codec.decodedSince(mark), [{ requestId: 'req-c', detail: { actor: 'api-key:ops-alice', via: 'codec-server', payloads: 1, namespace: 'default' } }]);
  });

  it('records a decode through the path token as anonymous', async () => {
    const mark = await codec.mark();
    assert.equal((await codec.post(`/${pathToken}/decode`, [sealed.b1], { 'x-namespace': 'erasure' })).status, 200);
    assert.deepEqual(await codec.decodedSince(mark), [
      { requestId: 'req-b', detail: { actor: 'path-token', anonymous: true, via: 'codec-server', payloads: 1, namespace: 'erasure' } },
    ]);
  });

  it('records the configured bearer token as codec-token', async () => {
    const bearerToken = 'audit-codec-token-0123456789';
    const app = createCodecServer({ keyStore: codec.engine.keyStore, auth: { bearerToken }, audit: createCodecAudit(codec.engine.pool), corsOrigins: [] });
    const served = await serve(app);
    try {
      const mark = await codec.mark();
      const res = await fetch(`${served.url}/decode`, { method: 'POST', headers: { authorization: `Bearer ${bearerToken}` }, body: JSON.stringify({ payloads: [sealed.a2] }) });
      assert.equal(res.status, 200);
      assert.deepEqual(await codec.decodedSince(mark), [{ requestId: 'req-a', detail: { actor: 'codec-token', via: 'codec-server', payloads: 1, namespace: null } }]);
    } finally {
      await served.close();
    }
  });

  it('records nothing for what reveals nothing: plaintext, the default key, encoding', async () => {
    const mark = await codec.mark();
    const plain = toWire(defaultPayloadConverter.toPayload({ requestId: 'req-a', note: 'typed into the Web UI' }));
    assert.equal((await codec.post('/decode', [plain, sealed.noRequest], { 'x-api-key': keys.alice })).status, 200);
    const encoded = await codec.post('/encode', [plain], { 'x-api-key': keys.alice });
    assert.equal(encoded.status, 200);
    assert.deepEqual(await codec.decodedSince(mark), []);
  });

  it('records nothing for a shredded request: its payloads decode to the stand-in', async () => {
    const shreddable = await codec.seal({ requestId: 'req-shredded', subject: subjects.c, subjectRef: 'ref-s' });
    await shredRequestKey(codec.engine.pool, 'req-shredded', { keyStore: codec.engine.keyStore });
    const mark = await codec.mark();
    const res = await codec.post('/decode', [shreddable], { 'x-api-key': keys.alice });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.deepEqual(findIdentifiers(text, allIdentifiers), []);
    const [standIn] = values(JSON.parse(text) as { payloads: WirePayload[] }) as Array<{ shredded: boolean; requestId: string }>;
    assert.deepEqual([standIn.shredded, standIn.requestId], [true, 'req-shredded']);
    assert.deepEqual(await codec.decodedSince(mark), []);
  });

  it('never writes decoded content into the audit trail', async () => {
    const { rows } = await codec.engine.pool.query<{ row: string }>('SELECT row_to_json(e)::text AS row FROM events e');
    assert.ok(rows.some((r) => r.row.includes('codec.decoded')), 'the earlier tests recorded decodes');
    assert.deepEqual(findIdentifiers(rows.map((r) => r.row).join('\n'), allIdentifiers), []);
    assert.ok(!rows.some((r) => r.row.includes('legacy-billing') || r.row.includes('ref-a')), 'no other decoded field either');
  });

  it('fails the decode with 503, revealing nothing, when the audit trail cannot be written', async () => {
    const fresh = await codec.seal({ requestId: 'req-outage', subject: subjects.a, subjectRef: 'ref-o' }); // its key is now cached
    const admin = new Client({ connectionString: ledger.server.url });
    await admin.connect();
    const database = new URL(codec.engine.config.DATABASE_URL).pathname.slice(1);
    try {
      // The ledger database goes away for this process: no new connections, the open ones cut.
      await admin.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
      const res = await codec.post('/decode', [fresh], { 'x-api-key': keys.alice });
      const body = await res.text();
      assert.equal(res.status, 503, body);
      assert.match(body, /audit trail could not record this decode/);
      assert.deepEqual(findIdentifiers(body, allIdentifiers), []);
      assert.ok(!body.includes('ref-o'));
    } finally {
      await admin.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    assert.deepEqual((await codec.decodedSince(0)).filter((e) => e.requestId === 'req-outage'), []);
  });
});
