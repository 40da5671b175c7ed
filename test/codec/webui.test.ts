import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec } from '../../src/codec/codec';
import { createCodecServer } from '../../src/codec/server';
import { freePort, startTemporalDevServer, type TemporalDevServer } from '../../src/dev/servers';
import { useLedgerDatabase } from '../harness/ledger';
import { serve, type Served } from '../harness/serve';
import { keyStoreOn, toWire } from './harness';

/**
 * The local run's wiring: `temporal server start-dev --ui-codec-endpoint <codec server>/<path token>`. The Web
 * UI sends no Authorization header to a plain-http codec endpoint, so the secret path authorises it.
 */
describe('Web UI wiring of the codec server (real dev server with its UI)', function () {
  this.timeout(120_000);
  const ledger = useLedgerDatabase();
  let temporal: TemporalDevServer;
  let codecServer: Served;

  after(async () => {
    await codecServer?.close();
    await temporal?.stop();
  });

  it("hands the Web UI the codec endpoint, and the codec server answers the browser's calls from the UI's origin", async () => {
    const { keyStore } = await keyStoreOn(ledger);
    const uiPort = await freePort();
    const uiOrigins = [`http://localhost:${uiPort}`, `http://127.0.0.1:${uiPort}`];
    const pathToken = randomBytes(18).toString('base64url');
    codecServer = await serve(createCodecServer({ keyStore, auth: { pathToken }, corsOrigins: uiOrigins, audit: async () => undefined }));
    const codecEndpoint = `${codecServer.url}/${pathToken}`;
    temporal = await startTemporalDevServer({ uiPort, codecEndpoint });

    // What the UI's browser code reads at start-up.
    type UiSettings = { Codec: { Endpoint: string; PassAccessToken: boolean } };
    let settings: UiSettings | undefined;
    for (let i = 0; i < 100 && !settings; i++) {
      settings = await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`).then((r) => (r.ok ? (r.json() as Promise<UiSettings>) : undefined), () => undefined);
      if (!settings) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(settings, 'the Web UI never answered');
    assert.equal(settings.Codec.Endpoint, codecEndpoint);
    assert.equal(settings.Codec.PassAccessToken, false);

    // What the browser then does for each event: a CORS preflight, then POST <endpoint>/decode.
    const [enc] = await new EncryptionCodec(keyStore).encode([defaultPayloadConverter.toPayload({ requestId: 'req-ui', subject: { email: 'ui@example.com' } })]);
    const wire = { payloads: [toWire(enc)] };
    const origin = uiOrigins[0];
    const preflight = await fetch(`${settings.Codec.Endpoint}/decode`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    const res = await fetch(`${settings.Codec.Endpoint}/decode`, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json', 'x-namespace': 'default' },
      body: JSON.stringify(wire),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), origin);
    const body = (await res.json()) as { payloads: Array<{ data: string }> };
    assert.deepEqual(JSON.parse(Buffer.from(body.payloads[0].data, 'base64').toString()), { requestId: 'req-ui', subject: { email: 'ui@example.com' } });
    // Without the secret path the same call is refused.
    const bare = codecEndpoint.slice(0, codecEndpoint.lastIndexOf('/'));
    assert.equal((await fetch(`${bare}/decode`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify(wire) })).status, 401);
  });
});
