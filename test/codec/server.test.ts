import assert from 'node:assert/strict';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec } from '../../src/codec/codec';
import type { KeyStore } from '../../src/codec/keys';
import { createCodecServer } from '../../src/codec/server';
import { shredRequestKey } from '../../src/codec/shred';
import type { Pool } from '../../src/ledger/db';
import { findIdentifiers } from './pii-scan';
import { useLedgerDatabase } from '../harness/ledger';
import { serve, type Served } from '../harness/serve';
import { fromWire, keyStoreOn, toWire, type WirePayload } from './harness';

const uiOrigin = 'http://localhost:8233';
const bearerToken = 'codec-test-token-0123456789';
const operatorKey = 'operator-key-abcdefghijklmnop';
const pathToken = 'ui-path-token-0123456789abcdef';
const subject = { email: 'mary.jackson@example.com', userId: 'mj-1921', phone: '+15550100777' };

describe('codec server (remote codec protocol, real PostgreSQL)', () => {
  const ledger = useLedgerDatabase();
  let server: Served;
  let base: string;
  let keyStore: KeyStore;
  let pool: Pool;
  let encrypted: WirePayload[];

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers }, body: JSON.stringify(body) });
  const auth = { authorization: `Bearer ${bearerToken}` };

  before(async () => {
    ({ keyStore, db: { pool } } = await keyStoreOn(ledger));
    server = await serve(
      createCodecServer({
        keyStore,
        auth: { bearerToken, operatorKeys: (k) => (k === operatorKey ? 'ops' : undefined), pathToken },
        corsOrigins: [uiOrigin],
        audit: async () => undefined,
      }),
    );
    base = server.url;
    const codec = new EncryptionCodec(keyStore);
    const plain = [{ requestId: 'req-ui', subject, subjectRef: 'ref' }, { status: 'completed', receipts: [] }].map((v) => defaultPayloadConverter.toPayload(v));
    encrypted = (await codec.encode(plain)).map(toWire);
  });
  after(async () => {
    await server?.close();
  });

  it('refuses to start without any way to authorise callers', () => {
    assert.throws(() => createCodecServer({ keyStore, auth: {}, corsOrigins: [], audit: async () => undefined }), /configure at least one of/);
  });

  it('answers 401 to a caller without credentials or with a wrong token, without decoding anything', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { 'x-api-key': 'wrong' }] as Array<Record<string, string>>) {
      const res = await post('/decode', { payloads: encrypted }, headers);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.deepEqual(findIdentifiers(await res.text(), subject), []);
    }
    assert.equal((await post('/wrong-token-0123456789/decode', { payloads: encrypted })).status, 401);
  });

  it('decodes for the bearer token, an operator key (either header) and the secret path', async () => {
    for (const [path, headers] of [
      ['/decode', auth],
      ['/decode', { 'x-api-key': operatorKey }],
      ['/decode', { authorization: `Bearer ${operatorKey}` }],
      [`/${pathToken}/decode`, {}],
    ] as const) {
      const res = await post(path, { payloads: encrypted }, headers);
      assert.equal(res.status, 200, `${path} ${JSON.stringify(Object.keys(headers))}`);
      const body = (await res.json()) as { payloads: WirePayload[] };
      const values = body.payloads.map((p) => defaultPayloadConverter.fromPayload(fromWire(p)));
      assert.deepEqual(values, [{ requestId: 'req-ui', subject, subjectRef: 'ref' }, { status: 'completed', receipts: [] }]);
    }
  });

  it('encodes what the Web UI sends (e.g. a signal input) and decodes it back', async () => {
    const plain = toWire(defaultPayloadConverter.toPayload({ system: 'crm', confirmedBy: 'ops' }));
    const enc = (await (await post('/encode', { payloads: [plain] }, auth)).json()) as { payloads: WirePayload[] };
    assert.equal(Buffer.from(enc.payloads[0].metadata.encoding, 'base64').toString(), 'binary/encrypted');
    const dec = (await (await post('/decode', enc, auth)).json()) as { payloads: WirePayload[] };
    assert.deepEqual(dec.payloads, [plain]);
  });

  it("answers the Web UI's CORS preflight for its origin only", async () => {
    const preflight = (origin: string) =>
      fetch(`${base}/decode`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' } });
    const ok = await preflight(uiOrigin);
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), uiOrigin);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /X-Namespace/);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    assert.match(ok.headers.get('access-control-allow-methods') ?? '', /POST/);
    const evil = await preflight('http://evil.example');
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    const res = await post(`/${pathToken}/decode`, { payloads: encrypted }, { origin: uiOrigin });
    assert.equal(res.headers.get('access-control-allow-origin'), uiOrigin);
  });

  it('answers 422 for tampered ciphertext, 400 for a malformed body, 404 elsewhere', async () => {
    const bytes = Buffer.from(encrypted[0].data, 'base64');
    bytes[bytes.length - 1] ^= 0xff;
    const tampered = await post('/decode', { payloads: [{ ...encrypted[0], data: bytes.toString('base64') }] }, auth);
    assert.equal(tampered.status, 422);
    assert.match(((await tampered.json()) as { detail: string }).detail, /failed authentication/);
    assert.equal((await post('/decode', { nope: 1 }, auth)).status, 400);
    assert.equal((await post('/decode', { payloads: [{ data: '***' }] }, auth)).status, 400);
    assert.equal((await fetch(`${base}/decode`, { headers: auth })).status, 404);
  });

  it('after shredding, reports the request payloads as shredded and still decodes the rest', async () => {
    await shredRequestKey(pool, 'req-ui', { keyStore });
    const res = await post('/decode', { payloads: encrypted }, auth);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.deepEqual(findIdentifiers(text, subject), []);
    const values = ((JSON.parse(text) as { payloads: WirePayload[] }).payloads).map((p) => defaultPayloadConverter.fromPayload(fromWire(p)));
    assert.deepEqual(values[0], { ...(values[0] as object), shredded: true, requestId: 'req-ui', message: 'data key destroyed after the certificate was issued' });
    assert.deepEqual(values[1], { status: 'completed', receipts: [] });
  });
});
