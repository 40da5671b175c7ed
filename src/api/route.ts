/**
 * What a route is, and how a table of them is served by Express. A route declares its method, path,
 * scope, input schemas, summary and responses once; the same declaration validates requests here and
 * describes them in /openapi.json (./openapi.ts). Handlers get validated input and call a use case.
 */
import type { Express, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { UseCases } from '../use-cases';
import { identifyCaller, requireScope, type ApiKey, type Scope } from './auth';
import { HttpError, validationError } from './errors';

/** Input schemas by where the value comes from; header names are written as clients send them. */
export interface RouteInput {
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: z.ZodType;
}

type Out<S> = S extends z.ZodType ? z.output<S> : Record<string, never>;

/** What a handler receives: each part validated by its schema (an empty object when it has none). */
export interface RouteArgs<I extends RouteInput> {
  params: Out<I['params']>;
  query: Out<I['query']>;
  headers: Out<I['headers']>;
  body: Out<I['body']>;
  /** The caller's API key when a valid one was presented (on public routes too); undefined otherwise. */
  caller?: ApiKey;
}

/** A success answer as the route table documents it. */
export interface ResponseSpec {
  description: string;
  /** JSON body schema (output side). */
  schema?: z.ZodType;
  /** Media type when the body is not JSON. */
  contentType?: string;
  /** Other media types the same answer may come in besides `schema`'s JSON (a text body), chosen by the request. */
  alternatives?: string[];
}

/** What a handler answers; errors are thrown (HttpError or a use case's error), never answered here. */
export interface Reply {
  status?: number;
  /** Serialized as JSON. */
  json?: unknown;
  /** Sent as is, with `contentType`. */
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** What every handler may use besides its input. */
export interface RouteContext {
  useCases: UseCases;
  /** The document generated from this route table. */
  openApi(): object;
}

export interface RouteSpec<I extends RouteInput = RouteInput> {
  method: 'get' | 'post' | 'delete';
  /** Express syntax (`/erasures/:id`); OpenAPI's `{id}` is derived. */
  path: string;
  /** The API key scope required, or `public`. */
  scope: Scope | 'public';
  summary: string;
  input?: I;
  /** Success answers by status. */
  responses: Record<number, ResponseSpec>;
  /** Problem answers this route gives besides the ones its input and scope imply (400, 401, 403, 413, 415). */
  problems?: Record<number, string>;
  /**
   * Runs once the path is valid and before the rest of the input is: a route about one request answers
   * 404 for an unknown request before it judges the body.
   */
  exists?(params: Out<I['params']>, ctx: RouteContext): Promise<void>;
  handler(args: RouteArgs<I>, ctx: RouteContext): Promise<Reply> | Reply;
}

/**
 * Declares one route; the generic keeps the handler's input typed by the schemas.
 * @example defineRoute({ method: 'get', path: '/healthz', scope: 'public', summary: 'Liveness', responses: { 200: { description: 'Alive' } }, handler: () => ({ json: { ok: true } }) })
 */
export function defineRoute<I extends RouteInput>(spec: RouteSpec<I>): RouteSpec {
  return spec as unknown as RouteSpec;
}

function parse(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return {};
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw validationError(r.error, where);
  return r.data;
}

/** Only the headers the route declares, read case-insensitively. */
function declaredHeaders(req: Request, schema: z.ZodObject | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(schema?.shape ?? {})) {
    const v = req.header(name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function send(res: Response, reply: Reply): void {
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  res.status(reply.status ?? 200);
  if (reply.text !== undefined) res.type(reply.contentType ?? 'text/plain').send(reply.text);
  else if (reply.json !== undefined) res.json(reply.json);
  else res.end();
}

/**
 * Registers every route of the table on the app: scope check, the path, `exists`, the rest of the input,
 * then the handler.
 * @example registerRoutes(app, routes, { apiKeys, context });
 */
export function registerRoutes(app: Express, routes: readonly RouteSpec[], opts: { apiKeys: readonly ApiKey[]; context: RouteContext }): void {
  for (const route of routes) {
    const run: RequestHandler = async (req, res) => {
      const input = route.input ?? {};
      const params = parse(input.params, req.params, 'params');
      await route.exists?.(params as Out<RouteInput['params']>, opts.context);
      const args = {
        params,
        query: parse(input.query, req.query, 'query'),
        headers: parse(input.headers, declaredHeaders(req, input.headers), 'headers'),
        body: parse(input.body, req.body, 'body'),
        caller: res.locals.caller as ApiKey | undefined,
      } as RouteArgs<RouteInput>;
      send(res, await route.handler(args, opts.context));
    };
    // Express 5 forwards a rejected handler to the error handler itself.
    const chain = route.scope === 'public' ? [identifyCaller(opts.apiKeys), run] : [requireScope(opts.apiKeys, route.scope), run];
    app[route.method](route.path, ...chain);
  }
  // After every route: a known path asked with a method it does not serve is a 405, not a missing page.
  for (const path of new Set(routes.map((r) => r.path))) app.all(path, methodNotAllowed(allowHeader(routes, path), path));
}

const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** The methods a path serves, as the Allow header lists them (Express answers HEAD wherever GET is served). */
function allowHeader(routes: readonly RouteSpec[], path: string): string {
  const methods = new Set(routes.filter((r) => r.path === path).flatMap((r) => (r.method === 'get' ? ['GET', 'HEAD'] : [r.method.toUpperCase()])));
  return METHOD_ORDER.filter((m) => methods.has(m)).join(', ');
}

/** OPTIONS answers with Allow; any other undeclared method is a 405 problem with Allow (RFC 9110). */
function methodNotAllowed(allow: string, path: string): RequestHandler {
  return (req, res) => {
    res.setHeader('Allow', allow);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    // The route pattern, never the path: its segments are the caller's text.
    throw new HttpError(405, `${req.method} is not served on ${path}; allowed: ${allow}`, { headers: { Allow: allow } });
  };
}
