/**
 * The HTTP API: the route table (./routes.ts) served over Express, with the request id, access log,
 * metrics, JSON-only bodies and the one error handler around it. Built by a factory from its
 * dependencies, so tests run it in-process on port 0.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import type { Logger } from '../logger';
import type { EngineMetrics } from '../metrics';
import type { UseCases } from '../use-cases';
import type { ApiKey } from './auth';
import { errorHandler, HttpError } from './errors';
import { openApiDocument } from './openapi';
import { registerRoutes, type RouteSpec } from './route';
import { routes as defaultRoutes } from './routes';

export interface ApiDeps {
  useCases: UseCases;
  apiKeys: readonly ApiKey[];
  logger: Logger;
  metrics: EngineMetrics;
  /** Largest accepted JSON body (default 64 KiB). */
  bodyLimit?: string;
  /** The route table (default: the API's own). */
  routes?: readonly RouteSpec[];
}

const REQUEST_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Creates the Express app.
 * @example const app = createApp({ useCases: createUseCases(deps), apiKeys, logger, metrics }); app.listen(3000);
 */
export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const { logger, metrics } = deps;
  const routes = deps.routes ?? defaultRoutes;

  // Request id, access log and metrics. Paths carry request ids only, never identifiers.
  app.use((req, res, next) => {
    const presented = req.header('x-request-id') ?? '';
    const reqId = REQUEST_ID.test(presented) ? presented : randomUUID();
    res.locals.reqId = reqId;
    res.setHeader('X-Request-Id', reqId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const routePath = (req.route?.path as string | undefined) ?? 'unmatched';
      metrics.httpRequests.inc({ method: req.method, route: routePath, status: String(res.statusCode) });
      logger.info({ reqId, method: req.method, route: routePath, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6, key: res.locals.apiKey }, 'http');
    });
    next();
  });

  // Bodies: JSON only, bounded.
  app.use((req, _res, next) => {
    const hasBody = Number(req.header('content-length') ?? 0) > 0 || req.header('transfer-encoding') !== undefined;
    if (hasBody && !req.is('application/json')) {
      throw new HttpError(415, `content type must be application/json (got ${req.header('content-type') ?? 'none'})`);
    }
    next();
  });
  app.use(express.json({ limit: deps.bodyLimit ?? '64kb', strict: true }));

  let document: object | undefined;
  registerRoutes(app, routes, { apiKeys: deps.apiKeys, context: { useCases: deps.useCases, openApi: () => (document ??= openApiDocument(routes)) } });

  app.use((req, _res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(logger));
  return app;
}
