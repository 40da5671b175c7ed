/**
 * The codec server: Temporal's remote codec protocol over the engine's {@link EncryptionCodec}, so the Web UI
 * and the `temporal` CLI (`--codec-endpoint`) show decoded payloads to authorised operators.
 *
 * Protocol: `POST …/encode` and `POST …/decode` (only the last path segment counts), body and answer
 * `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }` (protobuf JSON of Payloads).
 * The Web UI calls it from the browser, hence CORS for its origin; it sends `X-Namespace` and `Content-Type`,
 * and `Authorization` only when "pass access token" is on (which it allows only for an https endpoint).
 *
 * It is not an open decoder: each call is attributed to its caller (./caller.ts), and a decode that decrypts
 * payloads of a request is recorded in that request's audit trail, who and how many, before the answer
 * leaves (./reveals.ts, src/ledger/codec-audit.ts).
 */
import express, { type Express, type RequestHandler } from 'express';
import { z } from 'zod';
import type { Payload } from '@temporalio/common';
import { createLogger, type Logger } from '../logger';
import { HttpError, errorHandler } from '../api/errors';
import type { CodecAudit } from '../ledger/codec-audit';
import { callerOf, identifyCaller, type CodecServerAuth } from './caller';
import { EncryptionCodec } from './codec';
import { DataKeyDestroyedError, PayloadAuthenticationError, UnknownDataKeyError } from './errors';
import type { KeyStore } from './keys';
import { requestsRevealed } from './reveals';

export type { CodecServerAuth, CodecCaller } from './caller';

export interface CodecServerOptions {
  keyStore: KeyStore;
  auth: CodecServerAuth;
  /**
   * Records who a decode revealed which requests' payloads to, before the answer leaves; when it rejects
   * the decode answers 503 and reveals nothing. The API passes the ledger's (src/ledger/codec-audit.ts).
   * Tests that are not about the audit pass a no-op.
   */
  audit: CodecAudit;
  /** Browser origins allowed to call (the Web UI's, e.g. `http://localhost:8233`). */
  corsOrigins: string[];
  logger?: Logger;
  /** Largest request body (default `8mb`: a long history's payloads come in one call). */
  bodyLimit?: string;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const bodySchema = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).nullish(), data: base64.nullish() })),
});
type WirePayload = z.infer<typeof bodySchema>['payloads'][number];

const fromWire = (p: WirePayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toWire = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

/** Longest namespace kept in an audit record: Temporal's own limit is far below; the header is free text. */
const MAX_NAMESPACE = 255;

function cors(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins.map((o) => o.replace(/\/+$/, '')));
  return (req, res, next) => {
    const origin = req.header('origin');
    res.vary('Origin');
    if (origin && allowed.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      // The Web UI may fetch with credentials ("include cookies"); allowed because the origin is explicit.
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method !== 'OPTIONS') return next();
    if (!origin || !allowed.has(origin)) throw new HttpError(403, 'codec server: this origin may not call the codec server');
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Namespace, X-API-Key');
    res.setHeader('Access-Control-Max-Age', '600');
    res.status(204).end();
  };
}

/**
 * Builds the codec server's Express app; listen on it wherever the Web UI can reach it. Every decode that
 * decrypts a request's payloads is recorded through `audit` under the caller's name (see ./caller.ts).
 * @example
 * const app = createCodecServer({ keyStore, auth: { bearerToken: token }, audit: createCodecAudit(pool), corsOrigins: ['http://localhost:8233'] });
 * app.listen(8888); // temporal server start-dev --ui-codec-endpoint http://localhost:8888
 */
export function createCodecServer(opts: CodecServerOptions): Express {
  const { auth } = opts;
  if (!auth.operatorKeys && !auth.bearerToken && !auth.pathToken && !auth.accessTokens) {
    throw new Error('createCodecServer: configure at least one of auth.operatorKeys, auth.bearerToken, auth.pathToken or auth.accessTokens; the codec server decrypts PII');
  }
  if (auth.pathToken !== undefined && !/^[A-Za-z0-9_-]{16,}$/.test(auth.pathToken)) {
    throw new Error('createCodecServer: auth.pathToken must be at least 16 URL-safe characters');
  }
  const logger = opts.logger ?? createLogger({ level: 'silent' });
  // Lenient: the Web UI shows a hand-started workflow's plaintext input as it was sent; the worker refuses it.
  const codec = new EncryptionCodec(opts.keyStore, { refuseUnsealed: false });
  const app = express();
  app.disable('x-powered-by');
  app.use(cors(opts.corsOrigins));
  app.post(/\/(encode|decode)$/, identifyCaller(auth), express.json({ limit: opts.bodyLimit ?? '8mb', type: () => true }), async (req, res) => {
    const parsed = bodySchema.safeParse(req.body);
    if (!parsed.success) throw new HttpError(400, 'codec server: expected a JSON body {"payloads": [{"metadata": {…}, "data": "<base64>"}]}');
    const op = req.path.endsWith('/encode') ? 'encode' : 'decode';
    const caller = callerOf(res);
    const namespace = req.header('x-namespace')?.slice(0, MAX_NAMESPACE) ?? null;
    const payloads = parsed.data.payloads.map(fromWire);
    let out: Payload[];
    try {
      out = op === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
    } catch (err) {
      if (err instanceof PayloadAuthenticationError || err instanceof UnknownDataKeyError || err instanceof DataKeyDestroyedError) {
        throw new HttpError(422, err.message);
      }
      throw err;
    }
    let requests = 0;
    if (op === 'decode') {
      // Recorded before the answer is written: a reveal the trail cannot hold is not made.
      try {
        const revealed = await requestsRevealed(opts.keyStore, payloads, out);
        requests = revealed.size;
        await opts.audit([...revealed].map(([requestId, count]) => ({ requestId, actor: caller.actor, anonymous: caller.anonymous, payloads: count, namespace })));
      } catch (err) {
        throw new HttpError(503, 'codec server: the audit trail could not record this decode, so nothing is revealed; try again', {}, { cause: err });
      }
    }
    // Encoding reveals nothing, so it is only logged; the actor names a key, a token kind or an operator id.
    logger[op === 'encode' ? 'info' : 'debug']({ op, actor: caller.actor, namespace, payloads: out.length, requests }, 'codec request');
    res.json({ payloads: out.map(toWire) });
  });
  app.use((req) => {
    throw new HttpError(404, `codec server: ${req.method} ${req.path} is not an endpoint; use POST …/encode or POST …/decode`);
  });
  app.use(errorHandler(logger));
  return app;
}
