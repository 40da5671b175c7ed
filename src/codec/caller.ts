/**
 * Who is calling the codec server. Every decode is recorded under the caller's name, so authorising a call
 * and naming its caller are one step: the first credential that checks out decides both.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { HttpError } from '../api/errors';
import { AccessTokenError, looksLikeJwt, type AccessTokenVerifier } from './oidc';

/** Who may use the codec server; at least one way must be configured. */
export interface CodecServerAuth {
  /**
   * Operator API keys, presented as `X-API-Key: <key>` or `Authorization: Bearer <key>`: returns the key's
   * name for a valid operator key, undefined otherwise. The caller is recorded as `api-key:<name>`.
   */
  operatorKeys?: (key: string) => string | undefined | Promise<string | undefined>;
  /** One configured bearer token (`Authorization: Bearer <token>`), e.g. the temporal CLI's `--codec-auth`; recorded as `codec-token`. */
  bearerToken?: string;
  /**
   * A secret first path segment: `http://host:port/<pathToken>/decode` is authorised. For the Web UI over
   * plain HTTP (the local run), which sends no credentials there; the endpoint URL itself is the secret, so
   * the caller is recorded as `path-token`, anonymous.
   */
  pathToken?: string;
  /**
   * The operators' identity provider: the Web UI with "pass access token" on sends the signed-in operator's
   * access token as `Authorization: Bearer <jwt>`; recorded as `oidc:<sub>`. See ./oidc.ts.
   */
  accessTokens?: AccessTokenVerifier;
}

/** The caller of one codec request, as the audit trail names it. */
export interface CodecCaller {
  /** `api-key:<name>`, `codec-token`, `path-token` or `oidc:<subject>`. */
  actor: string;
  /** True when no person or key is known: the path token authorises whoever holds the URL. */
  anonymous?: boolean;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
/** Constant-time comparison of secrets of any length. */
const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

const unauthorized = (message = 'codec server: an operator API key, the configured bearer token or a signed-in operator\'s access token is required') =>
  new HttpError(401, message, { headers: { 'WWW-Authenticate': 'Bearer' } });

/** The caller the {@link identifyCaller} middleware found. */
export const callerOf = (res: Response): CodecCaller => res.locals.codecCaller as CodecCaller;

async function findCaller(auth: CodecServerAuth, path: string, authorization: string | undefined, apiKey: string | undefined): Promise<CodecCaller> {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (bearer && auth.bearerToken && sameSecret(bearer, auth.bearerToken)) return { actor: 'codec-token' };
  const presentedKey = apiKey ?? bearer;
  if (presentedKey && auth.operatorKeys) {
    const name = await auth.operatorKeys(presentedKey);
    if (name) return { actor: `api-key:${name}` };
  }
  if (bearer && auth.accessTokens && looksLikeJwt(bearer)) {
    try {
      return await auth.accessTokens(bearer);
    } catch (err) {
      // A token that fails is refused outright, even on the path-token URL: the UI then asks for a new login.
      if (!(err instanceof AccessTokenError)) throw err;
      if (err.status === 401) throw unauthorized(err.message);
      throw new HttpError(err.status, err.message, {}, { cause: err.cause });
    }
  }
  const prefix = path.slice(0, path.lastIndexOf('/'));
  if (auth.pathToken && sameSecret(prefix, `/${auth.pathToken}`)) return { actor: 'path-token', anonymous: true };
  throw unauthorized();
}

/**
 * Middleware: authorises the call and leaves its caller for {@link callerOf}, or answers 401 (403 for a valid
 * token lacking the required claim, 503 when the identity provider's keys cannot be read).
 * @example app.post('/decode', identifyCaller(auth), (req, res) => audit(callerOf(res)))
 */
export function identifyCaller(auth: CodecServerAuth): RequestHandler {
  return async (req, res, next) => {
    res.locals.codecCaller = await findCaller(auth, req.path, req.header('authorization'), req.header('x-api-key'));
    next();
  };
}
