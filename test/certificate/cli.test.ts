/** The CLI's certificate commands: exit codes and the one line that explains them. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { ExitCode, registerCertificateCommands, runLedgerCheck, runVerify, runVerifySubject } from '../../src/cli/certificate';
import { createCertificateIssuer, generateSigningKey, getCertificate, jwks, loadKeyRing, publicKeysFromJwks, type ErasureCertificate } from '../../src/certificate';
import { captureIo } from '../harness/cli-io';
import { asSuperuserBypassingTriggers, useLedgerDatabase } from '../harness/ledger';
import { serve } from '../harness/serve';
import { certificateRequest, identifierValues, receiveRequests, subjectOf } from './fixtures';

describe('erasure CLI: verify, verify-subject, ledger check', function () {
  // The suite's database holds the three certificates every test verifies; ledger check makes its own.
  const db = useLedgerDatabase();
  let dir: string;
  let certificate: ErasureCertificate;
  let certFile: string;
  let jwksFile: string;
  const write = (name: string, content: string | object) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return file;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-cli-'));
    const keys = await loadKeyRing(db.pool, generateSigningKey());
    const issuer = createCertificateIssuer({ pool: db.pool, keys });
    await receiveRequests(db.pool, 3);
    for (let i = 1; i <= 3; i++) await issuer.issue(certificateRequest(i));
    certificate = (await getCertificate(db.pool, 'req-2'))!;
    certFile = write('certificate.json', certificate);
    jwksFile = write('jwks.json', jwks(keys));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('verify', () => {
    it('exits 0 with a one-line summary for a valid certificate', async () => {
      const c = captureIo();
      assert.equal(await runVerify(certFile, { jwks: jwksFile }, c.io), ExitCode.ok);
      assert.equal(c.code(), 0);
      assert.equal(c.out.length, 1);
      assert.match(c.out[0], new RegExp(`^valid: certificate ${certificate.certificateId} \\(#2\\) for request req-2 \\(GDPR\\), 2 systems, completed 2026-03-12T17:30:00.000Z, signed .* by key ${certificate.signature.keyId}$`));
      assert.deepEqual(c.err, []);
    });

    it('exits 1 when the content was altered, 4 for an unknown key, 3 for a malformed file, 5 when unreadable', async () => {
      const cases: Array<[string, string | undefined, number, RegExp]> = [
        [write('altered.json', { ...certificate, systems: certificate.systems.map((s, i) => (i === 0 ? { ...s, remaining: 3 } : s)) }), jwksFile, ExitCode.failed, /^invalid: the signature does not match the content/],
        [certFile, write('other-jwks.json', jwks([generateSigningKey()])), ExitCode.unknownKey, /^invalid: signed by key .* which is not among the trusted public keys/],
        [write('broken.json', '{"format": "erasure-certificate/v1", '), jwksFile, ExitCode.malformed, /^invalid: .*broken\.json is not JSON/],
        [write('other.json', { hello: 'world' }), jwksFile, ExitCode.malformed, /^invalid: not an erasure certificate: .*format/],
        [path.join(dir, 'missing.json'), jwksFile, ExitCode.unavailable, /^cannot read .*missing\.json: ENOENT$/],
        [certFile, path.join(dir, 'missing-jwks.json'), ExitCode.unavailable, /^cannot read the keys in .*: ENOENT$/],
        [certFile, write('bad-jwks.json', '{"keys": 3}'), ExitCode.unavailable, /not a JWKS document/],
      ];
      for (const [file, keys, expected, message] of cases) {
        const c = captureIo();
        assert.equal(await runVerify(file, { jwks: keys }, c.io), expected, `${path.basename(file)}: ${c.err.join()}`);
        assert.equal(c.err.length, 1);
        assert.match(c.err[0], message);
        assert.ok(!/\n\s+at /.test(c.err[0]), 'no stack trace');
        assert.deepEqual(c.out, []);
      }
    });

    it('exits non-zero for a single byte flipped anywhere in the file, at many positions', async () => {
      const bytes = fs.readFileSync(certFile);
      let tried = 0;
      for (let i = 0; i < bytes.length; i += 7) {
        const tampered = Buffer.from(bytes);
        tampered[i] ^= 0x04;
        const file = path.join(dir, 'flipped.json');
        fs.writeFileSync(file, tampered);
        const c = captureIo();
        assert.notEqual(await runVerify(file, { jwks: jwksFile }, c.io), ExitCode.ok, `byte ${i}`);
        tried++;
      }
      assert.ok(tried > 200, `${tried} positions`);
    });

    it('takes the keys from a JWKS URL, a PEM public key, $ERASURE_JWKS or the ledger database', async () => {
      const keyServer = await serve((req, res) => {
        if (req.url === '/.well-known/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(fs.readFileSync(jwksFile));
        else res.writeHead(404).end();
      });
      const base = keyServer.url;
      try {
        const [published] = publicKeysFromJwks(JSON.parse(fs.readFileSync(jwksFile, 'utf8')));
        const pem = write('public.pem', published.publicKey.export({ format: 'pem', type: 'spki' }).toString());
        for (const [opts, env] of [
          [{ jwks: `${base}/.well-known/jwks.json` }, {}],
          [{ jwks: pem }, {}],
          [{}, { ERASURE_JWKS: jwksFile }],
          // A variable the command never reaches cannot stop it.
          [{}, { ERASURE_JWKS: jwksFile, DATABASE_URL: 'not a url' }],
          [{ jwks: pem }, { ERASURE_JWKS: 'x', DATABASE_URL: 'not a url' }],
          [{}, { DATABASE_URL: db.url }],
        ] as Array<[{ jwks?: string }, NodeJS.ProcessEnv]>) {
          const c = captureIo(env);
          assert.equal(await runVerify(certFile, opts, c.io), ExitCode.ok, c.err.join());
        }
        const c = captureIo();
        assert.equal(await runVerify(certFile, { jwks: `${base}/nope` }, c.io), ExitCode.unavailable);
        assert.match(c.err[0], /HTTP 404/);
      } finally {
        await keyServer.close();
      }
      const none = captureIo();
      assert.equal(await runVerify(certFile, {}, none.io), ExitCode.usage);
      assert.match(none.err[0], /no public keys to verify with: pass --jwks/);
      const badUrl = captureIo({ DATABASE_URL: 'not a url' });
      assert.equal(await runVerify(certFile, {}, badUrl.io), ExitCode.usage);
      assert.match(badUrl.err[0], /DATABASE_URL: must be a postgres:\/\/ URL/);
    });
  });

  describe('verify-subject', () => {
    it("exits 0 when the person's identifiers match, normalised as the engine does", async () => {
      const s = subjectOf(2);
      const c = captureIo();
      const code = await runVerifySubject(certFile, { email: `  ${s.email!.toUpperCase()} `, userId: s.userId, custom: [`loyaltyCard=${s.custom!.loyaltyCard}`], jwks: jwksFile }, c.io);
      assert.equal(code, ExitCode.ok, c.err.join());
      assert.match(c.out[0], /^match: email matches, userId matches, custom\.loyaltyCard matches — certificate .* for request req-2; signature valid/);
      const phone = captureIo();
      assert.equal(await runVerifySubject(certFile, { phone: s.phone!.replace(/^(\+\d{2})(\d{3})/, '$1 ($2) ') }, phone.io), ExitCode.ok, phone.err.join());
      assert.match(phone.out[0], /signature not checked/);
    });

    it("exits 1 for someone else's identifier or one the certificate has no commitment for, never echoing it", async () => {
      const cases: Array<[Parameters<typeof runVerifySubject>[1], RegExp]> = [
        [{ email: subjectOf(3).email }, /^no match: email does not match/],
        [{ email: subjectOf(2).email, userId: 'someone-else' }, /^no match: email matches, userId does not match/],
        [{ custom: ['employeeNo=4711'] }, /^no match: custom\.employeeNo not in the certificate/],
      ];
      for (const [opts, message] of cases) {
        const c = captureIo();
        assert.equal(await runVerifySubject(certFile, opts, c.io), ExitCode.failed);
        assert.match(c.err[0], message);
        for (const v of [...identifierValues(subjectOf(3)), 'someone-else', '4711']) assert.ok(!c.err[0].includes(v));
      }
    });

    it('exits 2 for unusable identifiers and 1 for a tampered certificate when keys are given', async () => {
      const bad = captureIo();
      assert.equal(await runVerifySubject(certFile, { email: 'not-an-email-secret' }, bad.io), ExitCode.usage);
      assert.match(bad.err[0], /^identifiers: email: /);
      assert.ok(!bad.err[0].includes('not-an-email-secret'));
      const none = captureIo();
      assert.equal(await runVerifySubject(certFile, {}, none.io), ExitCode.usage);
      assert.match(none.err[0], /at least one identifier is required/);

      const altered = write('altered-subject.json', { ...certificate, request: { ...certificate.request, jurisdiction: 'CCPA' } });
      const c = captureIo();
      assert.equal(await runVerifySubject(altered, { email: subjectOf(2).email, jwks: jwksFile }, c.io), ExitCode.failed);
      assert.match(c.err[0], /^invalid: the signature does not match/);
    });
  });

  describe('ledger check', () => {
    it('exits 0 for an intact ledger, 1 with the break once a certificate is deleted, 2 without a database', async () => {
      const other = await db.fresh();
      const keys = await loadKeyRing(other.pool, generateSigningKey());
      const issuer = createCertificateIssuer({ pool: other.pool, keys });
      const empty = captureIo({ DATABASE_URL: other.url });
      assert.equal(await runLedgerCheck({}, empty.io), ExitCode.ok);
      assert.deepEqual(empty.out, ['ledger intact: no certificates issued yet']);

      await receiveRequests(other.pool, 4);
      for (let i = 1; i <= 4; i++) await issuer.issue(certificateRequest(i));
      const intact = captureIo();
      assert.equal(await runLedgerCheck({ databaseUrl: other.url }, intact.io), ExitCode.ok);
      assert.match(intact.out[0], /^ledger intact: 4 certificates, head #4 cert_\S+ sha256:[0-9a-f]{64}$/);

      await asSuperuserBypassingTriggers(other.pool, [['DELETE FROM certificates WHERE sequence = 2']]);
      const broken = captureIo({ DATABASE_URL: other.url });
      assert.equal(await runLedgerCheck({}, broken.io), ExitCode.failed);
      assert.match(broken.err[0], /^ledger broken \(missing\) at #3: .*#2 was deleted; 1 certificate before it intact$/);

      const noDb = captureIo();
      assert.equal(await runLedgerCheck({}, noDb.io), ExitCode.usage);
      const unreachable = captureIo();
      assert.equal(await runLedgerCheck({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none' }, unreachable.io), ExitCode.unavailable);
      assert.match(unreachable.err[0], /^cannot check the ledger: /);
    });
  });

  describe('as commands', () => {
    it('parses the command lines through commander', async () => {
      const run = async (...args: string[]) => {
        const c = captureIo({ DATABASE_URL: db.url });
        const program = registerCertificateCommands(new Command('erasure').exitOverride(), c.io);
        await program.parseAsync(['node', 'erasure', ...args]);
        return c;
      };
      assert.equal((await run('verify', certFile, '--jwks', jwksFile)).code(), ExitCode.ok);
      assert.equal((await run('verify', certFile)).code(), ExitCode.ok);
      const s = subjectOf(2);
      assert.equal((await run('verify-subject', certFile, '--email', s.email!, '--user-id', s.userId!, '--phone', s.phone!, '--custom', `loyaltyCard=${s.custom!.loyaltyCard}`)).code(), ExitCode.ok);
      assert.equal((await run('verify-subject', certFile, '--user-id', 'nobody')).code(), ExitCode.failed);
      assert.equal((await run('ledger', 'check')).code(), ExitCode.ok);
    });

    it('ends a real process with the exit code and a reason, never a stack trace', async () => {
      const entry = path.join(__dirname, 'cli-entry.ts');
      const exec = (args: string[], env: NodeJS.ProcessEnv = {}) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile(process.execPath, ['-r', 'ts-node/register/transpile-only', entry, ...args], { cwd: path.resolve(__dirname, '../..'), env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) =>
            resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
          );
        });
      const [ok, malformed, tampered] = await Promise.all([
        exec(['verify', certFile, '--jwks', jwksFile]),
        exec(['verify', write('garbage.json', 'garbage'), '--jwks', jwksFile]),
        exec(['verify', write('tampered.json', { ...certificate, sequence: 7 }), '--jwks', jwksFile]),
      ]);
      assert.equal(ok.code, 0);
      assert.match(ok.stdout, /^valid: certificate /);
      assert.equal(ok.stdout.trim().split('\n').length, 1);
      assert.equal(malformed.code, ExitCode.malformed);
      assert.equal(tampered.code, ExitCode.failed);
      for (const r of [malformed, tampered]) {
        assert.equal(r.stdout, '');
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, /^invalid: /);
      }
    });
  });
});
