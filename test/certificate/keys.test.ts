/** Signing keys: where they come from, their ids, their JWK form. */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  GENERATED_KEY_FILE,
  generateSigningKey,
  jwks,
  keyIdOf,
  KeyError,
  loadSigningKey,
  type LoadSigningKeyOptions,
  publicKeyFromPem,
  publicKeysFromJwks,
  signingKeyToPem,
} from '../../src/certificate';
import { capturingLogger } from '../harness/logs';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-keys-'));

describe('certificate signing keys', () => {
  it('generates a key on the first local start, says so in the log, and reuses it afterwards', async () => {
    const dataDir = path.join(tmp(), 'data');
    const { logger, lines } = capturingLogger();
    const first = loadSigningKey({ dataDir, logger });
    await new Promise((r) => setImmediate(r));
    const file = path.join(dataDir, GENERATED_KEY_FILE);
    assert.ok(fs.existsSync(file));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'readable by the owner only');
    const generated = lines.find((l) => String(l.msg).startsWith('generated a new Ed25519 certificate signing key'));
    assert.ok(generated, 'a clear log line');
    assert.equal(generated.level, 40, 'logged as a warning');
    assert.equal(generated.keyId, first.keyId);
    assert.match(String(generated.msg), /SIGNING_KEY_FILE/);

    const second = loadSigningKey({ dataDir, logger });
    assert.equal(second.keyId, first.keyId);
    assert.equal(lines.filter((l) => String(l.msg).startsWith('generated')).length, 1);
    assert.ok(!fs.readdirSync(dataDir).some((f) => f.endsWith('.tmp')), 'no temporary files left');
  });

  it('loads the same key from SIGNING_KEY_FILE and from SIGNING_KEY_PEM (also written on one line)', () => {
    const key = generateSigningKey();
    const pem = signingKeyToPem(key);
    const file = path.join(tmp(), 'key.pem');
    fs.writeFileSync(file, pem);
    assert.equal(loadSigningKey({ file }).keyId, key.keyId);
    assert.equal(loadSigningKey({ pem }).keyId, key.keyId);
    assert.equal(loadSigningKey({ pem: pem.trim().replace(/\n/g, '\\n') }).keyId, key.keyId);
  });

  it('refuses keys it cannot sign with, without repeating the key material', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const dir = tmp();
    // generate: false is what the engine passes under NODE_ENV=production.
    const cases: Array<[LoadSigningKeyOptions, RegExp]> = [
      [{ pem: rsa }, /rsa key; certificates are signed with Ed25519/],
      [{ pem: 'not a key, secret-material-123' }, /SIGNING_KEY_PEM does not hold a PEM private key/],
      [{ file: path.join(dir, 'missing.pem') }, /cannot be read \(ENOENT\)/],
      [{ file: path.join(dir, 'x.pem'), pem: rsa }, /set only one/],
      [{ generate: false }, /no certificate signing key: set SIGNING_KEY_FILE/],
    ];
    for (const [source, message] of cases) {
      assert.throws(
        () => loadSigningKey({ ...source, dataDir: dir }),
        (err: unknown) => err instanceof KeyError && message.test(err.message) && !err.message.includes('secret-material') && !err.message.includes('PRIVATE KEY'),
      );
    }
    assert.equal(fs.readdirSync(dir).length, 0, 'production never generates a key');
  });

  it('uses the RFC 7638 thumbprint as key id (RFC 8037 example key)', () => {
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }, format: 'jwk' });
    assert.equal(keyIdOf(publicKey), 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it('publishes every key as an OKP JWK with its kid, and reads them back', () => {
    const current = generateSigningKey();
    const retired = generateSigningKey();
    const doc = jwks({ signing: current, publicKeys: [{ keyId: current.keyId, publicKey: current.publicKey }, retired] });
    assert.deepEqual(doc.keys.map((k) => k.kid), [current.keyId, retired.keyId], 'current first, no duplicates');
    for (const k of doc.keys) {
      assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
      assert.equal(k.kty, 'OKP');
      assert.equal(k.crv, 'Ed25519');
      assert.equal(k.alg, 'EdDSA');
      assert.ok(!('d' in k), 'no private part');
    }
    const read = publicKeysFromJwks({ keys: [...doc.keys, { kty: 'RSA', n: 'x', e: 'AQAB' }] });
    assert.deepEqual(read.map((k) => k.keyId), [current.keyId, retired.keyId], 'other key types ignored');
    assert.equal(publicKeyFromPem(current.publicKey.export({ format: 'pem', type: 'spki' }).toString(), 'pem').keyId, current.keyId);
  });
});
