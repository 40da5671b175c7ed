import assert from 'node:assert/strict';
import { defaultPayloadConverter } from '@temporalio/common';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { useLedgerDatabase } from '../harness/ledger';
import { serve, type Served } from '../harness/serve';
import { startAuditedCodecServer, pathToken, type AuditedCodecServer } from './audited-server';
import { fromWire, type WirePayload } from './harness';
import { findIdentifiers } from './pii-scan';

const issuer = 'https://login.example.test/realms/ops';
const audience = 'erasure-codec';
const subject = { email: 'mary.winston.jackson@example.com', userId: 'mwj-1921' };

describe("codec server behind the operators' login: the Web UI's forwarded access token (JWKS served locally)", () => {
  const ledger = useLedgerDatabase();
  let jwks: Served;
  let jwksRequests = 0;
  let codec: AuditedCodecServer;
  let providerKey: CryptoKey;
  let strangerKey: CryptoKey;
  let sealed: WirePayload;

  /** A token as the provider would sign it for operator `op-7f3a`; `claims` and `opts` change what the test needs. */
  const token = async (claims: JWTPayload = {}, opts: { key?: CryptoKey; kid?: string; expiresAt?: number; iss?: string; aud?: string } = {}) =>
    new SignJWT({ groups: ['erasure-operators'], email: 'operator@ops.example', ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? 'provider-1', typ: 'at+jwt' })
      .setIssuer(opts.iss ?? issuer)
      .setAudience(opts.aud ?? audience)
      .setSubject('op-7f3a')
      .setIssuedAt()
      .setExpirationTime(opts.expiresAt ?? Math.floor(Date.now() / 1000) + 300)
      .sign(opts.key ?? providerKey);
  const decodeWith = async (jwt: string, route = '/decode') => codec.post(route, [sealed], { authorization: `Bearer ${jwt}` });

  before(async () => {
    const provider = await generateKeyPair('ES256');
    providerKey = provider.privateKey;
    strangerKey = (await generateKeyPair('ES256')).privateKey;
    const published = { ...(await exportJWK(provider.publicKey)), kid: 'provider-1', alg: 'ES256', use: 'sig' };
    jwks = await serve((req, res) => {
      jwksRequests++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [published] }));
    });
    codec = await startAuditedCodecServer(ledger, {
      CODEC_OIDC_ISSUER: issuer,
      CODEC_OIDC_JWKS_URL: `${jwks.url}/protocol/openid-connect/certs`,
      CODEC_OIDC_AUDIENCE: audience,
      CODEC_OIDC_REQUIRED_CLAIM: 'groups=erasure-operators',
    });
    sealed = await codec.seal({ requestId: 'req-oidc', subject, subjectRef: 'ref-oidc' });
  });
  after(async () => {
    await codec?.close();
    await jwks?.close();
  });

  it('decodes for a valid token and records oidc:<sub> in the request trail', async () => {
    const mark = await codec.mark();
    const res = await decodeWith(await token());
    assert.equal(res.status, 200);
    const body = (await res.json()) as { payloads: WirePayload[] };
    assert.deepEqual(defaultPayloadConverter.fromPayload(fromWire(body.payloads[0])), { requestId: 'req-oidc', subject, subjectRef: 'ref-oidc' });
    assert.deepEqual(await codec.decodedSince(mark), [{ requestId: 'req-oidc', detail: { actor: 'oidc:op-7f3a', via: 'codec-server', payloads: 1, namespace: 'default' } }]);
    assert.ok(jwksRequests >= 1, 'the keys came from the JWKS endpoint');
  });

  it('names the operator from the token even on the path-token URL', async () => {
    const mark = await codec.mark();
    assert.equal((await decodeWith(await token(), `/${pathToken}/decode`)).status, 200);
    assert.deepEqual((await codec.decodedSince(mark)).map((e) => e.detail.actor), ['oidc:op-7f3a']);
  });

  it('answers 401, revealing and recording nothing, for an expired token, another audience or issuer, and another signer', async () => {
    const cases: Array<[string, Promise<string>, RegExp]> = [
      ['expired', token({}, { expiresAt: Math.floor(Date.now() / 1000) - 3600 }), /has expired/],
      ['another audience', token({}, { aud: 'some-other-api' }), /not meant for the codec server/],
      ['another issuer', token({}, { iss: 'https://elsewhere.example.test' }), /not issued by the configured identity provider/],
      ['another signer, same key id', token({}, { key: strangerKey }), /signature that does not verify/],
      ['another signer, unknown key id', token({}, { key: strangerKey, kid: 'stranger-1' }), /key the identity provider does not publish/],
      ['garbled', token().then((t) => `${t.slice(0, -4)}AAAA`), /signature that does not verify/],
    ];
    const mark = await codec.mark();
    for (const [name, jwt, why] of cases) {
      const res = await decodeWith(await jwt);
      const text = await res.text();
      assert.equal(res.status, 401, `${name}: ${text}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer', name);
      assert.match(JSON.parse(text).detail as string, why, name);
      assert.deepEqual(findIdentifiers(text, subject), [], name);
      assert.ok(!text.includes('ref-oidc'), name);
    }
    assert.deepEqual(await codec.decodedSince(mark), []);
  });

  it('answers 403 to a valid token without the required group, recording nothing', async () => {
    const mark = await codec.mark();
    const res = await decodeWith(await token({ groups: ['billing'] }));
    const text = await res.text();
    assert.equal(res.status, 403, text);
    assert.match(text, /lacks the claim CODEC_OIDC_REQUIRED_CLAIM asks for/);
    assert.deepEqual(findIdentifiers(text, subject), []);
    assert.deepEqual(await codec.decodedSince(mark), []);
  });

  it('refuses to start with an issuer but no JWKS URL or audience, naming what is missing', async () => {
    await assert.rejects(startAuditedCodecServer(ledger, { CODEC_OIDC_ISSUER: issuer }), /CODEC_OIDC_JWKS_URL, CODEC_OIDC_AUDIENCE must be set too/);
  });
});
