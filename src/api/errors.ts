/**
 * The API's one error type and its one handler: every failure leaves as an RFC 9457 problem document,
 * bad input as 4xx with a message, and only our own faults or an unavailable dependency as 5xx. Every 5xx
 * is logged with its cause (names and messages, never request bodies); the answer carries none of it.
 */
import type { ErrorRequestHandler } from 'express';
import { ZodError } from 'zod';
import { formatIssues, issuePath } from '../domain';
import type { Logger } from '../logger';
import { UseCaseError, type UseCaseErrorKind } from '../use-cases/errors';

/** One field's problem, as listed in a 400 answer. */
export interface FieldError {
  path: string;
  message: string;
}

/** An error that knows its HTTP status. Throw it from any route; the handler formats it. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  /**
   * @example throw new HttpError(503, 'Temporal did not answer; try again', {}, { cause: err });
   */
  constructor(
    readonly status: number,
    message: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } & Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The title of a status, as problem documents show it. */
export const statusTitle = (status: number): string => titles[status] ?? 'Error';

/** Turns a schema failure into a 400 listing each field's error (messages only: no input values). */
export function validationError(err: ZodError, where = 'body'): HttpError {
  const errors = err.issues.map((i) => ({ path: issuePath(i, { prefix: where }), message: i.message }));
  return new HttpError(400, `invalid request ${where}: ${formatIssues(err, { prefix: where })}`, { errors });
}

const statusOfKind: Record<UseCaseErrorKind, number> = { invalid: 400, not_found: 404, conflict: 409, busy: 429, unavailable: 503 };

/** A use case's outcome as HTTP; the use case error stays the cause, so a 503 logs what Temporal said. */
function fromUseCase(err: UseCaseError): HttpError {
  const headers = err.kind === 'busy' ? { 'Retry-After': '1' } : undefined;
  return new HttpError(statusOfKind[err.kind], err.message, { ...err.detail, ...(headers ? { headers } : {}) }, { cause: err.cause ?? err });
}

/** Longest message logged from a cause: enough to find the fault, too short to carry a payload. */
const MAX_LOGGED_MESSAGE = 200;
const clip = (s: string) => (s.length > MAX_LOGGED_MESSAGE ? `${s.slice(0, MAX_LOGGED_MESSAGE)}…` : s);

/**
 * Names and (clipped) messages down a cause chain, a few levels. A thrown value that is not an Error is
 * logged by its type only, since it could be anything, a payload included.
 */
function describe(err: unknown, depth = 0): Record<string, unknown> | undefined {
  if (err === undefined || err === null) return undefined;
  if (!(err instanceof Error)) return { type: typeof err };
  const cause = depth < 3 ? describe(err.cause, depth + 1) : undefined;
  return { name: err.name, message: clip(err.message), ...(cause ? { cause } : {}) };
}

/** The HTTP error for anything a route or middleware threw; `undefined` for our own faults. */
function toHttpError(err: any): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (err instanceof UseCaseError) return fromUseCase(err);
  if (err instanceof ZodError) return validationError(err);
  if (err?.type === 'entity.too.large') return new HttpError(413, `request body larger than ${err.limit} bytes`);
  if (err?.type === 'entity.parse.failed') return new HttpError(400, 'request body is not valid JSON');
  if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported') return new HttpError(415, err.message);
  if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) return new HttpError(err.status, err.expose ? err.message : statusTitle(err.status));
  return undefined;
}

/** Express error middleware: the only place that writes error responses. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let httpError = toHttpError(err);
    // The route pattern, never the path: path segments (consumer and system ids) are the caller's free text.
    const where = { reqId: res.locals.reqId, method: req.method, route: (req.route?.path as string | undefined) ?? 'unmatched' };
    // The cause goes in a key of its own: pino's `err` serializer would fold a nested cause into one message.
    if (!httpError) {
      logger.error({ ...where, status: 500, err: { name: err?.name, message: clip(String(err?.message)), stack: err?.stack }, cause: describe(err?.cause) }, 'unhandled error');
      httpError = new HttpError(500, 'internal error; the request id in this answer finds it in the logs');
    } else if (httpError.status >= 500) {
      logger.error({ ...where, status: httpError.status, err: { name: httpError.name, message: httpError.message }, cause: describe(httpError.cause) }, 'request failed');
    }
    const { errors, headers, ...extra } = httpError.extra;
    for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v);
    res
      .status(httpError.status)
      .type('application/problem+json')
      .json({
        type: 'about:blank',
        title: statusTitle(httpError.status),
        status: httpError.status,
        detail: httpError.message,
        requestId: res.locals.reqId,
        ...(errors ? { errors } : {}),
        ...extra,
      });
  };
}
