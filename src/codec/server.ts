/**
 * The codec server: Temporal's remote codec protocol over the engine's {@link EncryptionCodec}, so the Web UI
 * and the `temporal` CLI (`--codec-endpoint`) show decoded payloads to authorised operators.
 *
 * Protocol: `POST …/encode` and `POST …/decode` (only the last path segment counts), body and answer
 * `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }` (protobuf JSON of Payloads).
 * The Web UI calls it from the browser, hence CORS for its origin; it sends `X-Namespace` and `Content-Type`,
 * and `Authorization` only when "pass access token" is on (which it allows only for an https endpoint).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import { z } from 'zod';
import type { Payload } from '@temporalio/common';
import { createLogger, type Logger } from '../logger';
import { HttpError, errorHandler } from '../api/errors';
import { EncryptionCodec } from './codec';
import { DataKeyDestroyedError, PayloadAuthenticationError, UnknownDataKeyError } from './errors';
import type { KeyStore } from './keys';

/** Who may use the codec server; at least one way must be configured. */
export interface CodecServerAuth {
  /** Operator API keys, presented as `X-API-Key: <key>` or `Authorization: Bearer <key>`. */
  operatorKeys?: (key: string) => boolean | Promise<boolean>;
  /** One configured bearer token (`Authorization: Bearer <token>`), e.g. the temporal CLI's `--codec-auth`. */
  bearerToken?: string;
  /**
   * A secret first path segment: `http://host:port/<pathToken>/decode` is authorised. For the Web UI over
   * plain HTTP (the local run), which sends no credentials there; the endpoint URL itself is the secret.
   */
  pathToken?: string;
}

export interface CodecServerOptions {
  keyStore: KeyStore;
  auth: CodecServerAuth;
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

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
/** Constant-time comparison of secrets of any length. */
const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

const unauthorized = () =>
  new HttpError(401, 'codec server: an operator API key or the configured bearer token is required', { headers: { 'WWW-Authenticate': 'Bearer' } });

function authorize(auth: CodecServerAuth): RequestHandler {
  return async (req, _res, next) => {
    const prefix = req.path.slice(0, req.path.lastIndexOf('/'));
    if (auth.pathToken && sameSecret(prefix, `/${auth.pathToken}`)) return next();
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.header('authorization') ?? '')?.[1];
    if (bearer && auth.bearerToken && sameSecret(bearer, auth.bearerToken)) return next();
    const apiKey = req.header('x-api-key') ?? bearer;
    if (apiKey && auth.operatorKeys && (await auth.operatorKeys(apiKey))) return next();
    throw unauthorized();
  };
}

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
 * Builds the codec server's Express app; listen on it wherever the Web UI can reach it.
 * @example
 * const app = createCodecServer({ keyStore, auth: { bearerToken: process.env.CODEC_TOKEN }, corsOrigins: ['http://localhost:8233'] });
 * app.listen(8888); // temporal server start-dev --ui-codec-endpoint http://localhost:8888
 */
export function createCodecServer(opts: CodecServerOptions): Express {
  const { auth } = opts;
  if (!auth.operatorKeys && !auth.bearerToken && !auth.pathToken) {
    throw new Error('createCodecServer: configure at least one of auth.operatorKeys, auth.bearerToken or auth.pathToken; the codec server decrypts PII');
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
  app.post(/\/(encode|decode)$/, authorize(auth), express.json({ limit: opts.bodyLimit ?? '8mb', type: () => true }), async (req, res) => {
    const parsed = bodySchema.safeParse(req.body);
    if (!parsed.success) throw new HttpError(400, 'codec server: expected a JSON body {"payloads": [{"metadata": {…}, "data": "<base64>"}]}');
    const op = req.path.endsWith('/encode') ? 'encode' : 'decode';
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
    logger.debug({ op, namespace: req.header('x-namespace'), payloads: out.length }, 'codec request');
    res.json({ payloads: out.map(toWire) });
  });
  app.use((req) => {
    throw new HttpError(404, `codec server: ${req.method} ${req.path} is not an endpoint; use POST …/encode or POST …/decode`);
  });
  app.use(errorHandler(logger));
  return app;
}
