/**
 * The codec server as the API process runs it (`startCodecServer`: API keys from `API_KEYS`, the ledger's
 * audit, `CODEC_OIDC_*`), on an engine opened over a fresh ledger database, with helpers to seal payloads
 * and read back the `codec.decoded` events a test caused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { hashApiKey } from '../../src/api/auth';
import { startCodecServer } from '../../src/api/main';
import { EncryptionCodec } from '../../src/codec/codec';
import { auditEventTypes } from '../../src/domain';
import { openEngine, type Engine } from '../../src/engine';
import type { LedgerHandle } from '../harness/ledger';
import { manualCatalog } from '../harness/stack';
import { toWire, type WirePayload } from './harness';

export const uiOrigin = 'http://localhost:8233';
export const pathToken = 'audit-path-token-0123456789abcdef';
/** An operator key named `ops-alice`, and a key without the operator scope. */
export const keys = { alice: 'alice-operator-key-0123456789', reader: 'reader-only-key-0123456789' };

export interface DecodedEvent {
  requestId: string;
  detail: Record<string, unknown>;
}

export interface AuditedCodecServer {
  engine: Engine;
  url: string;
  /** Seals a value the way the worker would (the request's key when it names a `requestId`). */
  seal(value: unknown): Promise<WirePayload>;
  post(route: string, payloads: WirePayload[], headers?: Record<string, string>): Promise<Response>;
  /** The id of the newest event, to read only what comes after. */
  mark(): Promise<number>;
  /** `codec.decoded` events written after `mark`, by request id then id. */
  decodedSince(mark: number): Promise<DecodedEvent[]>;
  close(): Promise<void>;
}

/**
 * Opens an engine on a fresh database of `ledger` and starts its codec server on a free port.
 * @example const codec = await startAuditedCodecServer(ledger, { CODEC_OIDC_ISSUER: … });
 */
export async function startAuditedCodecServer(ledger: LedgerHandle, env: Record<string, string> = {}): Promise<AuditedCodecServer> {
  const db = await ledger.fresh();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codec-audit-'));
  const catalog = path.join(dir, 'catalog.yaml');
  fs.writeFileSync(catalog, manualCatalog);
  const engine = await openEngine({
    role: 'test',
    dataDir: dir, // the signing key it generates
    env: {
      DATABASE_URL: db.url,
      ERASURE_CATALOG: catalog,
      ENGINE_MASTER_KEY: randomBytes(32).toString('base64'),
      SUBJECT_HASH_SECRET: randomBytes(24).toString('hex'),
      API_KEYS: `ops-alice:operator:${hashApiKey(keys.alice)};reader:read:${hashApiKey(keys.reader)}`,
      LOG_LEVEL: 'silent',
      ...env,
    },
  });
  let server: Server;
  try {
    server = await startCodecServer(engine, { port: 0, pathToken, corsOrigins: [uiOrigin] });
  } catch (err) {
    await engine.close();
    throw err;
  }
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const codec = new EncryptionCodec(engine.keyStore);
  return {
    engine,
    url,
    seal: async (value) => toWire((await codec.encode([defaultPayloadConverter.toPayload(value)]))[0]),
    post: (route, payloads, headers = {}) =>
      fetch(`${url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers }, body: JSON.stringify({ payloads }) }),
    mark: async () => Number((await engine.pool.query<{ id: string | null }>('SELECT max(id) AS id FROM events')).rows[0].id ?? 0),
    async decodedSince(mark) {
      const { rows } = await engine.pool.query<{ request_id: string; detail: Record<string, unknown> }>(
        'SELECT request_id, detail FROM events WHERE id > $1 AND type = $2 ORDER BY request_id, id',
        [mark, auditEventTypes.codecDecoded],
      );
      return rows.map((r) => ({ requestId: r.request_id, detail: r.detail }));
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await engine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
