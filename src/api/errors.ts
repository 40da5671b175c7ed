/**
 * The API's one error type and its one handler: every failure leaves as an RFC 9457 problem document,
 * bad input as 4xx with a message, and only our own faults as 500 (logged, never echoed).
 */
import type { ErrorRequestHandler } from 'express';
import { ZodError } from 'zod';
import type { Logger } from '../logger';

/** One field's problem, as listed in a 400 answer. */
export interface FieldError {
  path: string;
  message: string;
}

/** An error that knows its HTTP status. Throw it from any route; the handler formats it. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } & Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Turns a schema failure into a 400 listing each field's error (messages only: no input values). */
export function validationError(err: ZodError, where = 'body'): HttpError {
  const errors = err.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  return new HttpError(400, `invalid request ${where}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors });
}

/** Express error middleware: the only place that writes error responses. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let httpError: HttpError;
    if (err instanceof HttpError) httpError = err;
    else if (err instanceof ZodError) httpError = validationError(err);
    else if (err?.type === 'entity.too.large') httpError = new HttpError(413, `request body larger than ${err.limit} bytes`);
    else if (err?.type === 'entity.parse.failed') httpError = new HttpError(400, 'request body is not valid JSON');
    else if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported') httpError = new HttpError(415, err.message);
    else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) httpError = new HttpError(err.status, err.expose ? err.message : titles[err.status] ?? 'bad request');
    else {
      logger.error({ err: { message: err?.message, name: err?.name, stack: err?.stack }, reqId: res.locals.reqId, path: req.path }, 'unhandled error');
      httpError = new HttpError(500, 'internal error; the request id in this answer finds it in the logs');
    }
    const { errors, headers, ...extra } = httpError.extra;
    for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v);
    res
      .status(httpError.status)
      .type('application/problem+json')
      .json({
        type: 'about:blank',
        title: titles[httpError.status] ?? 'Error',
        status: httpError.status,
        detail: httpError.message,
        requestId: res.locals.reqId,
        ...(errors ? { errors } : {}),
        ...extra,
      });
  };
}
