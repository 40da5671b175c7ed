/**
 * The HTTP API: intake, status, operator actions, certificates, health, metrics and its OpenAPI document.
 * Built by a factory from its dependencies, so tests run it in-process on port 0.
 */
import { randomUUID } from 'node:crypto';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { Pool } from 'pg';
import type { z } from 'zod';
import type { Logger } from '../logger';
import { getRequest, submitErasure, type IntakeDeps, type RequestRecord } from '../intake/intake';
import { ErasureDeadlineKey, ErasureJurisdictionKey, ErasureOverdueKey, ErasurePendingSystemsKey, ErasureStatusKey, operatorActionUpdate, statusQuery } from '../workflows/definitions';
import { type OperatorActionName } from '../domain';
import { requireScope, type ApiKey } from './auth';
import { errorHandler, HttpError, validationError } from './errors';
import type { EngineMetrics } from '../metrics';
import { openApiDocument } from './openapi';
import { erasureRequestSchema, listQuerySchema, operatorBodies, requestIdSchema } from './schemas';

export interface ApiDeps {
  intake: IntakeDeps;
  client: Client;
  pool: Pool;
  namespace: string;
  apiKeys: readonly ApiKey[];
  logger: Logger;
  metrics: EngineMetrics;
  certificates: {
    get(requestId: string): Promise<unknown | undefined>;
    jwks(): Promise<unknown>;
  };
  /** Largest accepted JSON body (default 64 KiB). */
  bodyLimit?: string;
}

type Handler = (req: Request, res: Response) => Promise<void> | void;
/** Express 5 forwards rejected promises to the error handler; this only keeps route code short. */
const route = (h: Handler): RequestHandler => (req, res, next) => Promise.resolve(h(req, res)).catch(next);

function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw validationError(r.error, where);
  return r.data;
}

const links = (id: string) => ({ self: `/erasures/${id}`, certificate: `/erasures/${id}/certificate` });

/**
 * Creates the Express app.
 * @example const app = createApp(deps); app.listen(3000);
 */
export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const { logger, metrics } = deps;
  const can = (scope: 'intake' | 'operator' | 'read') => requireScope(deps.apiKeys, scope);

  // Request id, access log and metrics. Paths carry request ids only, never identifiers.
  app.use((req, res, next) => {
    const reqId = /^[A-Za-z0-9-]{1,64}$/.test(req.header('x-request-id') ?? '') ? req.header('x-request-id')! : randomUUID();
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

  // ---------------------------------------------------------------------------------------------
  // Public endpoints
  // ---------------------------------------------------------------------------------------------
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get(
    '/readyz',
    route(async (_req, res) => {
      const checks = await Promise.all([
        deps.pool.query('SELECT 1').then(
          () => ['database', 'ok'] as const,
          (e: Error) => ['database', e.message] as const,
        ),
        deps.client.connection
          .withDeadline(Date.now() + 2000, () => deps.client.connection.workflowService.getSystemInfo({}))
          .then(
            () => ['temporal', 'ok'] as const,
            (e: Error) => ['temporal', e.message] as const,
          ),
      ]);
      const ready = checks.every(([, v]) => v === 'ok');
      res.status(ready ? 200 : 503).json({ ready, checks: Object.fromEntries(checks) });
    }),
  );
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  app.get(
    '/.well-known/jwks.json',
    route(async (_req, res) => {
      res.json(await deps.certificates.jwks());
    }),
  );
  app.get(
    '/metrics',
    route(async (_req, res) => {
      const { rows } = await deps.pool.query<{ status: string; n: string; overdue: string }>(
        `SELECT status, count(*) AS n, count(*) FILTER (WHERE deadline < now()) AS overdue
         FROM requests WHERE status NOT IN ('completed', 'cancelled') GROUP BY status`,
      );
      metrics.openErasures.reset();
      let overdue = 0;
      for (const r of rows) {
        metrics.openErasures.set({ status: r.status }, Number(r.n));
        overdue += Number(r.overdue);
      }
      metrics.overdueErasures.set(overdue);
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    }),
  );

  // ---------------------------------------------------------------------------------------------
  // Intake
  // ---------------------------------------------------------------------------------------------
  app.post(
    '/erasures',
    can('intake'),
    route(async (req, res) => {
      const header = req.header('idempotency-key');
      const raw = (req.body ?? {}) as Record<string, unknown>;
      if (typeof raw !== 'object' || Array.isArray(raw)) throw new HttpError(400, 'request body must be a JSON object');
      if (header !== undefined) {
        parse(requestIdSchema, header, 'header Idempotency-Key');
        if (raw.requestId !== undefined && raw.requestId !== header) {
          throw new HttpError(400, 'requestId in the body and the Idempotency-Key header differ');
        }
      }
      const body = parse(erasureRequestSchema, { ...raw, ...(header ? { requestId: header } : {}) }, 'body');
      const outcome = await submitErasure(deps.intake, body);
      const r = outcome.record;
      if (outcome.kind === 'conflict') {
        metrics.intake.inc({ outcome: 'conflict' });
        throw new HttpError(409, `request ${r.requestId} already exists with a different body`, { requestId: r.requestId });
      }
      metrics.intake.inc({ outcome: outcome.kind === 'existing' ? 'duplicate' : r.status });
      res
        .status(outcome.kind === 'created' ? 202 : 200)
        .location(`/erasures/${r.requestId}`)
        .json({ requestId: r.requestId, workflowId: r.workflowId, status: r.status, deadline: r.deadline, links: links(r.requestId) });
    }),
  );

  // ---------------------------------------------------------------------------------------------
  // Reading
  // ---------------------------------------------------------------------------------------------
  const mustFind = async (id: string): Promise<RequestRecord> => {
    parse(requestIdSchema, id, 'path id');
    const r = await getRequest(deps.pool, id);
    if (!r) throw new HttpError(404, `no erasure request ${id}`);
    return r;
  };

  app.get(
    '/erasures',
    can('read'),
    route(async (req, res) => {
      const q = parse(listQuerySchema, req.query, 'query');
      const clauses = [`WorkflowType = 'erasureWorkflow'`];
      if (q.status) clauses.push(`${ErasureStatusKey.name} = '${q.status}'`);
      if (q.overdue) clauses.push(`${ErasureOverdueKey.name} = ${q.overdue}`);
      if (q.jurisdiction) clauses.push(`${ErasureJurisdictionKey.name} = '${q.jurisdiction}'`);
      const resp = await deps.client.connection.workflowService.listWorkflowExecutions({
        namespace: deps.namespace,
        query: clauses.join(' AND '),
        pageSize: q.pageSize,
        nextPageToken: q.pageToken ? Buffer.from(q.pageToken, 'base64url') : undefined,
      });
      const items = (resp.executions ?? []).map((e) => {
        const sa = decodeTypedSearchAttributes(e.searchAttributes?.indexedFields);
        const workflowId = e.execution?.workflowId ?? '';
        const requestId = workflowId.replace(/^erasure-/, '');
        return {
          requestId,
          workflowId,
          status: sa.get(ErasureStatusKey) ?? null,
          deadline: sa.get(ErasureDeadlineKey)?.toISOString() ?? null,
          overdue: sa.get(ErasureOverdueKey) ?? false,
          jurisdiction: sa.get(ErasureJurisdictionKey) ?? null,
          pendingSystems: sa.get(ErasurePendingSystemsKey) ?? [],
          links: links(requestId),
        };
      });
      const token = resp.nextPageToken?.length ? Buffer.from(resp.nextPageToken).toString('base64url') : undefined;
      res.json({ items, nextPageToken: token ?? null });
    }),
  );

  app.get(
    '/erasures/:id',
    can('read'),
    route(async (req, res) => {
      const record = await mustFind(String(req.params.id));
      if (!record.workflowStartedAt || record.status === 'completed' || record.status === 'cancelled') {
        res.json({ ...record, source: 'ledger', links: links(record.requestId) });
        return;
      }
      try {
        const status = await deps.client.connection.withDeadline(Date.now() + 5000, () =>
          deps.client.workflow.getHandle(record.workflowId).query(statusQuery),
        );
        res.json({ ...status, workflowId: record.workflowId, source: 'workflow', links: links(record.requestId) });
      } catch (err) {
        logger.warn({ requestId: record.requestId, err: { name: (err as Error).name, message: (err as Error).message } }, 'status query failed; answering from the ledger');
        res.json({ ...record, source: 'ledger', links: links(record.requestId) });
      }
    }),
  );

  app.get(
    '/erasures/:id/certificate',
    can('read'),
    route(async (req, res) => {
      const record = await mustFind(String(req.params.id));
      const cert = await deps.certificates.get(record.requestId);
      if (!cert) throw new HttpError(404, `request ${record.requestId} has no certificate yet (status ${record.status})`);
      res.json(cert);
    }),
  );

  // ---------------------------------------------------------------------------------------------
  // Operator actions: HTTP twins of the signals, answered through the workflow's operatorAction update
  // ---------------------------------------------------------------------------------------------
  const operate = (signal: OperatorActionName, build: (req: Request) => unknown): RequestHandler[] => [
    can('operator'),
    route(async (req, res) => {
      const record = await mustFind(String(req.params.id));
      const payload = build(req);
      if (!record.workflowStartedAt) throw new HttpError(409, `request ${record.requestId} is queued; its workflow has not started yet`);
      let result;
      try {
        result = await deps.client.connection.withDeadline(Date.now() + 10_000, () =>
          deps.client.workflow.getHandle(record.workflowId).executeUpdate(operatorActionUpdate, { args: [{ signal, payload }] }),
        );
      } catch (err) {
        if (err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError || /already completed|not found/i.test((err as Error).message)) {
          throw new HttpError(409, `request ${record.requestId} is no longer open (${record.status})`);
        }
        throw new HttpError(503, 'Temporal did not answer; try again');
      }
      if (!result.accepted) throw new HttpError(409, result.reason ?? 'refused', { requestId: record.requestId });
      res.status(202).json({ accepted: true, requestId: record.requestId, action: signal });
    }),
  ];
  const body = <S extends z.ZodType>(schema: S, extra: (req: Request) => Record<string, unknown> = () => ({})) => (req: Request) =>
    parse(schema, { ...((req.body as object) ?? {}), ...extra(req) }, 'body');

  app.post('/erasures/:id/confirmations', ...operate('confirmDeletion', body(operatorBodies.confirmations)));
  app.post(
    '/erasures/:id/consumers/:consumer/complete',
    ...operate('consumerCompleted', (req) => ({ consumer: String(req.params.consumer), ...body(operatorBodies.consumerComplete)(req) })),
  );
  app.post('/erasures/:id/legal-hold', ...operate('placeLegalHold', body(operatorBodies.placeLegalHold)));
  app.delete('/erasures/:id/legal-hold', ...operate('releaseLegalHold', body(operatorBodies.releaseLegalHold)));
  app.post('/erasures/:id/extend', ...operate('extendDeadline', body(operatorBodies.extend)));
  app.post('/erasures/:id/cancel', ...operate('cancel', body(operatorBodies.cancel)));
  app.post(
    '/erasures/:id/systems/:system/retry',
    ...operate('retrySystem', (req) => ({ ...body(operatorBodies.retry)(req), system: String(req.params.system) })),
  );

  app.use((req, _res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(logger));
  return app;
}
