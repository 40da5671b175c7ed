/**
 * Temporal connections secured by configuration (src/temporal/connection.ts): the worker and the API reach a
 * real TLS endpoint (test/harness/temporal-tls-proxy.ts, in front of the dev server) with a private CA, a
 * client certificate and an API key; the endpoint refuses what it should; bad settings stop at start-up.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { hashApiKey } from '../../src/api/auth';
import { startApi } from '../../src/api/main';
import { ConfigError, exampleSecrets, loadConfig, productionSecretProblems, withheldFromCatalog, type Environment } from '../../src/config';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/dev/servers';
import { engineClient, openEngine } from '../../src/engine';
import { connectTemporal, temporalConnectionOptions } from '../../src/temporal/connection';
import { createEngineWorker } from '../../src/worker';
import { ErasureStatusKey } from '../../src/workflows/definitions';
import { capturingLogger } from '../harness/logs';
import { freshDatabase, sharedPostgres } from '../harness/postgres';
import { eventually, manualCatalog } from '../harness/stack';
import { makeTestPki, startTlsProxy, type TestPki, type TlsProxy, type TlsProxyOptions } from '../harness/temporal-tls-proxy';

const TEMPORAL_API_KEY = `tk_${randomBytes(12).toString('hex')}`;
/** Only the connection variables matter here; the database URL is never dialled. */
const configOf = (env: Environment) => loadConfig({ DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused', ...env });

/**
 * One client call (GetSystemInfo) over the API's kind of connection. Not retried, so a refusal shows its own
 * reason rather than the retries' deadline.
 */
async function clientCall(env: Environment) {
  const connection = Connection.lazy({ ...temporalConnectionOptions(configOf(env)), interceptors: [] });
  try {
    return await connection.withDeadline(Date.now() + 8_000, () => connection.workflowService.getSystemInfo({}));
  } finally {
    await connection.close();
  }
}

/** The worker's kind of connection; closed at once when it opens. */
async function workerConnect(env: Environment): Promise<void> {
  const connection = await connectTemporal(configOf(env), (o) => NativeConnection.connect(o));
  await connection.close();
}

describe('Temporal connections over TLS, mTLS and API keys', function () {
  let dir: string;
  let pki: TestPki;
  let temporal: TemporalDevServer;
  const proxies: TlsProxy[] = [];

  const proxy = async (opts: Partial<TlsProxyOptions> = {}) => {
    const p = await startTlsProxy({ upstream: temporal.address, cert: fs.readFileSync(pki.serverCert), key: fs.readFileSync(pki.serverKey), ...opts });
    proxies.push(p);
    return p;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-tls-'));
    pki = makeTestPki(dir);
    temporal = await startTemporalDevServer();
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await temporal?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs an erasure to its certificate with the worker and the API connected over mTLS', async () => {
    const endpoint = await proxy({ clientCa: fs.readFileSync(pki.caCert) });
    const pg = await sharedPostgres();
    const catalog = path.join(dir, 'catalog.yaml');
    fs.writeFileSync(catalog, manualCatalog);
    const operatorKey = `op_${randomBytes(12).toString('hex')}`;
    const env: Environment = {
      DATABASE_URL: pg.urlFor(await freshDatabase(pg, 'tls')),
      TEMPORAL_ADDRESS: endpoint.address,
      TEMPORAL_TLS_CA_FILE: pki.caCert,
      TEMPORAL_TLS_CERT_FILE: pki.clientCert,
      TEMPORAL_TLS_KEY_FILE: pki.clientKey,
      TASK_QUEUE: `erasure-tls-${randomBytes(4).toString('hex')}`,
      ERASURE_CATALOG: catalog,
      ENGINE_MASTER_KEY: randomBytes(32).toString('base64'),
      SUBJECT_HASH_SECRET: randomBytes(24).toString('hex'),
      API_KEYS: `ops:intake,operator,read,certificates:${hashApiKey(operatorKey)}`,
    };
    const { logger } = capturingLogger();
    const engine = await openEngine({ env, logger, dataDir: dir, role: 'tls-test' });
    // No connection passed: the worker connects as the configuration says.
    const { worker, close } = await createEngineWorker(engine, { connectors: {} });
    const running = worker.run();
    const api = await startApi(engine, { port: 0, relayIntervalMs: 500 });
    const call = async (method: string, url: string, body?: unknown) => {
      const res = await fetch(`${api.url}${url}`, {
        method,
        headers: { authorization: `Bearer ${operatorKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, json: (await res.json()) as Record<string, any> };
    };
    try {
      const accepted = await call('POST', '/erasures', { subject: { email: 'tls.person@example.org' }, jurisdiction: 'GDPR' });
      assert.equal(accepted.status, 202, JSON.stringify(accepted.json));
      const id = accepted.json.requestId as string;
      await eventually(async () => (await call('GET', `/erasures/${id}`)).json.status === 'awaiting_confirmation', 'awaiting confirmation');
      assert.equal((await call('POST', `/erasures/${id}/confirmations`, { system: 'legacy-billing', confirmedBy: 'billing-team' })).status, 202);
      await eventually(async () => (await call('GET', `/erasures/${id}`)).json.status === 'completed', 'completed');
      assert.equal((await call('GET', `/erasures/${id}/certificate`)).status, 200);

      // The API's client reads the run through the same endpoint.
      const described = await engineClient(engine).workflow.getHandle(`erasure-${id}`).describe();
      assert.equal(described.status.name, 'COMPLETED');
      assert.equal(described.typedSearchAttributes.get(ErasureStatusKey), 'completed');

      const methods = [...endpoint.forwarded].map((p) => p.split('/').pop());
      for (const m of ['PollWorkflowTaskQueue', 'RespondWorkflowTaskCompleted', 'StartWorkflowExecution', 'UpdateWorkflowExecution', 'DescribeWorkflowExecution']) assert.ok(methods.includes(m), `${m} went through the TLS endpoint (forwarded: ${methods.join(', ')})`);
      assert.deepEqual([...endpoint.clientNames], ['erasure-worker']);
    } finally {
      await api.close();
      worker.shutdown();
      await running.catch(() => undefined);
      await close();
      await engine.close();
    }
  });

  describe('what the endpoint refuses', () => {
    it('refuses a worker and a client without the client certificate it requires', async () => {
      const endpoint = await proxy({ clientCa: fs.readFileSync(pki.caCert) });
      const env = { TEMPORAL_ADDRESS: endpoint.address, TEMPORAL_TLS_CA_FILE: pki.caCert };
      await assert.rejects(workerConnect(env), (err: Error) => {
        assert.match(err.message, new RegExp(`cannot connect to Temporal at ${endpoint.address} over TLS \\(CA from TEMPORAL_TLS_CA_FILE\\)`));
        return true;
      });
      await assert.rejects(clientCall(env), (err: Error & { code?: number }) => {
        assert.equal(err.code, 14, err.message); // UNAVAILABLE: the TLS connection never opens
        assert.match(err.message, /certificate required/);
        return true;
      });
      assert.equal(endpoint.forwarded.size, 0);
    });

    it('fails clearly when the endpoint is signed by a CA other than the configured one', async () => {
      const endpoint = await proxy();
      const env = { TEMPORAL_ADDRESS: endpoint.address, TEMPORAL_TLS_CA_FILE: pki.otherCaCert };
      await assert.rejects(workerConnect(env), (err: Error) => {
        assert.match(err.message, /cannot connect to Temporal at .* over TLS/);
        assert.match(err.message, /certificate|UnknownIssuer/i);
        return true;
      });
      await assert.rejects(clientCall(env), /UNAVAILABLE: .*(unable to verify the first certificate|self-signed certificate)/);
      assert.equal(endpoint.forwarded.size, 0);
    });

    it('cannot be reached in plain gRPC: the TLS settings are what gets a connection through', async () => {
      const endpoint = await proxy();
      await assert.rejects(workerConnect({ TEMPORAL_ADDRESS: endpoint.address }), /cannot connect to Temporal at .* over plain gRPC/);
      await assert.rejects(clientCall({ TEMPORAL_ADDRESS: endpoint.address }));
      await workerConnect({ TEMPORAL_ADDRESS: endpoint.address, TEMPORAL_TLS_CA_FILE: pki.caCert });
      assert.ok((await clientCall({ TEMPORAL_ADDRESS: endpoint.address, TEMPORAL_TLS_CA_FILE: pki.caCert })).serverVersion);
    });

    it('checks the configured server name against the certificate', async () => {
      const endpoint = await proxy();
      const env = { TEMPORAL_ADDRESS: endpoint.address, TEMPORAL_TLS_CA_FILE: pki.caCert };
      assert.ok((await clientCall({ ...env, TEMPORAL_TLS_SERVER_NAME: 'localhost' })).serverVersion);
      await workerConnect({ ...env, TEMPORAL_TLS_SERVER_NAME: 'localhost' });
      await assert.rejects(clientCall({ ...env, TEMPORAL_TLS_SERVER_NAME: 'temporal.elsewhere.example' }));
      await assert.rejects(workerConnect({ ...env, TEMPORAL_TLS_SERVER_NAME: 'temporal.elsewhere.example' }));
    });
  });

  describe('API keys', () => {
    it('sends TEMPORAL_API_KEY as a bearer token from the worker and the client', async () => {
      const endpoint = await proxy({ apiKey: TEMPORAL_API_KEY });
      const env = { TEMPORAL_ADDRESS: endpoint.address, TEMPORAL_TLS_CA_FILE: pki.caCert, TEMPORAL_API_KEY };
      await workerConnect(env);
      assert.ok((await clientCall(env)).serverVersion);
      assert.deepEqual([...endpoint.authorizations], [`Bearer ${TEMPORAL_API_KEY}`]);
      assert.equal(endpoint.unauthenticated, 0);
      assert.ok(endpoint.forwarded.size > 0);
    });

    it('is refused UNAUTHENTICATED without the key', async () => {
      const endpoint = await proxy({ apiKey: TEMPORAL_API_KEY });
      const env = { TEMPORAL_ADDRESS: endpoint.address, TEMPORAL_TLS_CA_FILE: pki.caCert };
      await assert.rejects(clientCall(env), (err: Error & { code?: number }) => {
        assert.equal(err.code, 16, err.message);
        return true;
      });
      await assert.rejects(workerConnect(env), /cannot connect to Temporal .*(UNAUTHENTICATED|Unauthenticated|missing or wrong API key)/);
      assert.ok(endpoint.unauthenticated >= 2);
      assert.equal(endpoint.forwarded.size, 0);
    });
  });

  describe('configuration checked at start-up', () => {
    const problem = (env: Environment): string => {
      try {
        configOf(env);
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.message;
      }
      assert.fail('the configuration was accepted');
    };

    it('names the variable of a file it cannot read, and why, without repeating the value', () => {
      const missing = path.join(dir, 'no-such-ca.pem');
      const message = problem({ TEMPORAL_TLS_CA_FILE: missing });
      assert.match(message, /TEMPORAL_TLS_CA_FILE: cannot read the file it names \(ENOENT: no such file\)/);
      assert.ok(!message.includes(missing), message);
      assert.match(problem({ TEMPORAL_TLS_CERT_FILE: dir, TEMPORAL_TLS_KEY_FILE: pki.clientKey }), /TEMPORAL_TLS_CERT_FILE: cannot read the file it names \(EISDIR: is a directory\)/);
      // A key pasted where its path belongs is not echoed either.
      const pasted = fs.readFileSync(pki.clientKey, 'utf8');
      assert.ok(!problem({ TEMPORAL_TLS_CERT_FILE: pki.clientCert, TEMPORAL_TLS_KEY_FILE: pasted }).includes(pasted.split('\n')[1]));
    });

    it('refuses a file that holds no PEM certificate or key', () => {
      const notPem = path.join(dir, 'not-a-cert.txt');
      fs.writeFileSync(notPem, 'hello\n');
      assert.match(problem({ TEMPORAL_TLS_CA_FILE: notPem }), /TEMPORAL_TLS_CA_FILE: names a file that holds no PEM certificate/);
      assert.match(problem({ TEMPORAL_TLS_CERT_FILE: pki.clientKey, TEMPORAL_TLS_KEY_FILE: pki.clientKey }), /TEMPORAL_TLS_CERT_FILE: names a file that holds no PEM certificate/);
      assert.match(problem({ TEMPORAL_TLS_CERT_FILE: pki.clientCert, TEMPORAL_TLS_KEY_FILE: pki.clientCert }), /TEMPORAL_TLS_KEY_FILE: names a file that holds no unencrypted PEM private key/);
    });

    it('requires the client certificate and its key together, and matching', () => {
      assert.match(problem({ TEMPORAL_TLS_CERT_FILE: pki.clientCert }), /TEMPORAL_TLS_KEY_FILE: is required with TEMPORAL_TLS_CERT_FILE/);
      assert.match(problem({ TEMPORAL_TLS_KEY_FILE: pki.clientKey }), /TEMPORAL_TLS_CERT_FILE: is required with TEMPORAL_TLS_KEY_FILE/);
      assert.match(problem({ TEMPORAL_TLS_CERT_FILE: pki.clientCert, TEMPORAL_TLS_KEY_FILE: pki.serverKey }), /TEMPORAL_TLS_KEY_FILE: is not the private key of the certificate in TEMPORAL_TLS_CERT_FILE/);
    });

    it('refuses an API key, or TLS files, with TEMPORAL_TLS=false, and never shows the key', () => {
      const message = problem({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY });
      assert.match(message, /TEMPORAL_API_KEY: needs TLS, but TEMPORAL_TLS=false: Temporal Cloud accepts API keys only over TLS/);
      assert.ok(!message.includes(TEMPORAL_API_KEY));
      assert.match(problem({ TEMPORAL_TLS: 'off', TEMPORAL_TLS_CA_FILE: pki.caCert }), /TEMPORAL_TLS_CA_FILE: configures TLS, but TEMPORAL_TLS=false/);
      assert.match(problem({ TEMPORAL_TLS: 'maybe' }), /TEMPORAL_TLS: must be true or false/);
    });

    it('turns TLS on for any TLS setting or an API key, and keeps the key and its file from the catalog', () => {
      assert.equal(temporalConnectionOptions(configOf({})).tls, undefined);
      assert.deepEqual(temporalConnectionOptions(configOf({ TEMPORAL_API_KEY })), { address: '127.0.0.1:7233', tls: {}, apiKey: TEMPORAL_API_KEY });
      assert.deepEqual(temporalConnectionOptions(configOf({ TEMPORAL_TLS: 'true' })).tls, {});
      assert.equal(temporalConnectionOptions(configOf({ TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' })).tls?.serverNameOverride, 'temporal.internal');
      assert.ok(withheldFromCatalog.has('TEMPORAL_API_KEY') && withheldFromCatalog.has('TEMPORAL_TLS_KEY_FILE'));
    });

    it('refuses in production an API key that is an example value shipped with the engine', () => {
      const problems = productionSecretProblems({ NODE_ENV: 'production', TEMPORAL_API_KEY: exampleSecrets[0] });
      assert.ok(problems.some((p) => /^TEMPORAL_API_KEY: is an example value .*create one in Temporal Cloud/.test(p)), problems.join('\n'));
    });
  });
});
