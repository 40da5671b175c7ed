/**
 * The route table: every endpoint of the API, declared once. Express serves it (./route.ts) and
 * /openapi.json describes it (./openapi.ts). Handlers only translate HTTP to a use case and back.
 */
import type { z } from 'zod';
import { attestedFields, type OperatorActionName } from '../domain';
import { asyncApiDocument } from '../events/asyncapi';
import { actionScopes, allows } from './auth';
import { bulkRoutes } from './bulk-routes';
import { systemRoutes } from './system-routes';
import { HttpError } from './errors';
import { defineRoute, type RouteSpec } from './route';
import { formatReportCsv, reportFileName } from '../use-cases/report';
import {
  acceptedSchema,
  actionResultSchema,
  consumerParamsSchema,
  erasureReportSchema,
  erasureRequestSchema,
  idParamsSchema,
  listPageSchema,
  listQuerySchema,
  operatorBodies,
  previewReportSchema,
  previewRequestSchema,
  readinessSchema,
  reportQuerySchema,
  submitHeadersSchema,
  systemParamsSchema,
} from './schemas';

const links = (id: string) => ({ self: `/erasures/${id}`, certificate: `/erasures/${id}/certificate` });

const publicRoutes: RouteSpec[] = [
  defineRoute({
    method: 'get',
    path: '/healthz',
    scope: 'public',
    summary: 'Liveness',
    responses: { 200: { description: 'Alive' } },
    handler: () => ({ json: { ok: true } }),
  }),
  defineRoute({
    method: 'get',
    path: '/readyz',
    scope: 'public',
    summary: 'Readiness: database and Temporal reachable (each check only for a caller with a valid API key)',
    responses: { 200: { description: 'Ready', schema: readinessSchema }, 503: { description: 'Not ready (with a key, each failed check says why)', schema: readinessSchema } },
    handler: async ({ caller }, { useCases }) => {
      const r = await useCases.readiness();
      // Anyone may ask whether the engine is up; why it is not (error messages of its dependencies) is for keys.
      const json: z.output<typeof readinessSchema> = caller ? r : { ready: r.ready };
      return { status: r.ready ? 200 : 503, json };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/openapi.json',
    scope: 'public',
    summary: 'This document (OpenAPI 3.1)',
    responses: { 200: { description: 'The OpenAPI document' } },
    handler: (_args, { openApi }) => ({ json: openApi() }),
  }),
  defineRoute({
    method: 'get',
    path: '/asyncapi.json',
    scope: 'public',
    summary: 'The Kafka topics and their messages (AsyncAPI 3)',
    responses: { 200: { description: 'The AsyncAPI document' } },
    handler: () => ({ json: asyncApiDocument() }),
  }),
  defineRoute({
    method: 'get',
    path: '/.well-known/jwks.json',
    scope: 'public',
    summary: 'Public keys that verify certificates (JWK set)',
    responses: { 200: { description: 'JWKS' } },
    handler: async (_args, { useCases }) => ({ json: await useCases.publicKeys() }),
  }),
  defineRoute({
    method: 'get',
    path: '/metrics',
    scope: 'public',
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'Metrics', contentType: 'text/plain' } },
    handler: async (_args, { useCases }) => {
      const { contentType, text } = await useCases.metrics();
      return { text, contentType };
    },
  }),
];

const requestRoutes: RouteSpec[] = [
  defineRoute({
    method: 'post',
    path: '/erasures',
    scope: 'intake',
    summary: 'Submit an erasure request',
    input: { headers: submitHeadersSchema, body: erasureRequestSchema },
    responses: {
      202: { description: 'Accepted into the ledger (status queued): the intake relay starts its workflow within moments, or once Temporal is reachable', schema: acceptedSchema },
      200: { description: 'The same idempotency key and body again: the existing request', schema: acceptedSchema },
    },
    // The one rule across header and body, which a schema cannot state: 422, so that 400 always means a schema said no.
    problems: { 409: 'Same idempotency key, different body', 422: 'requestId in the body and the Idempotency-Key header differ' },
    handler: async ({ headers, body }, { useCases }) => {
      const key = headers['Idempotency-Key'];
      if (key !== undefined && body.requestId !== undefined && body.requestId !== key) {
        throw new HttpError(422, 'requestId in the body and the Idempotency-Key header differ');
      }
      const { created, record: r } = await useCases.submit({ ...body, requestId: key ?? body.requestId });
      const json: z.output<typeof acceptedSchema> = { requestId: r.requestId, workflowId: r.workflowId, status: r.status, deadline: r.deadline, links: links(r.requestId) };
      return { status: created ? 202 : 200, headers: { Location: `/erasures/${r.requestId}` }, json };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/erasures/preview',
    scope: 'operator',
    summary: 'Preview an erasure: per system and table / prefix / index, what would be deleted, anonymized, kept as shared and derived; changes nothing',
    input: { body: previewRequestSchema },
    responses: { 200: { description: 'The counts (ok false when a system could not be previewed; its error says why)', schema: previewReportSchema } },
    handler: async ({ body }, { useCases }) => ({ json: await useCases.preview(body.subject) }),
  }),
  defineRoute({
    method: 'get',
    path: '/erasures',
    scope: 'read',
    summary: 'List erasures through Temporal visibility (search attributes)',
    input: { query: listQuerySchema },
    responses: { 200: { description: 'One page of erasures', schema: listPageSchema } },
    problems: { 503: 'Temporal visibility did not answer; try again' },
    handler: async ({ query }, { useCases }) => {
      const page = await useCases.list({ ...query, overdue: query.overdue === undefined ? undefined : query.overdue === 'true' });
      return { json: { items: page.items.map((i) => ({ ...i, links: links(i.requestId) })), nextPageToken: page.nextPageToken } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/erasures/:id',
    scope: 'read',
    summary: 'Status of one erasure: from its workflow while open, from the ledger once done',
    input: { params: idParamsSchema },
    responses: { 200: { description: 'Status (source says which)' } },
    problems: { 404: 'Unknown request' },
    handler: async ({ params }, { useCases }) => ({ json: { ...(await useCases.status(params.id)), links: links(params.id) } }),
  }),
  defineRoute({
    method: 'get',
    path: '/erasures/:id/certificate',
    scope: 'certificates',
    summary: 'The signed erasure certificate',
    input: { params: idParamsSchema },
    responses: { 200: { description: 'Certificate' } },
    problems: { 404: 'Unknown request or no certificate yet' },
    handler: async ({ params }, { useCases }) => ({ json: await useCases.certificate(params.id) }),
  }),
];

/**
 * An operator action: the HTTP twin of a signal, answered through the workflow's update. `payload`
 * adds what the path carries (a consumer or system id) to the body.
 */
function operatorRoute<P extends z.ZodObject, B extends z.ZodType>(spec: {
  method?: 'post' | 'delete';
  path: string;
  action: OperatorActionName;
  summary: string;
  params: P;
  body: B;
  payload?: (params: z.output<P>, body: z.output<B>) => unknown;
}): RouteSpec {
  return defineRoute({
    method: spec.method ?? 'post',
    path: spec.path,
    scope: actionScopes[spec.action],
    summary: spec.summary,
    input: { params: spec.params, body: spec.body },
    responses: { 202: { description: 'Accepted by the workflow', schema: actionResultSchema } },
    problems: {
      403: 'The API key may not take this action, or not on this system or consumer',
      404: 'Unknown request',
      409: 'The request state forbids this action (reason in detail)',
      429: 'Too many actions on this request are under way; retry after Retry-After seconds',
      503: 'Temporal did not answer; try again',
    },
    exists: async (params, { useCases }) => {
      await useCases.find((params as { id: string }).id);
    },
    handler: async ({ params, body, caller }, { useCases }) => {
      // The generic schemas keep their inferred types out of reach here; the route's schemas validated both.
      const p = params as z.output<P> & { id: string };
      const payload = spec.payload ? spec.payload(p, body as z.output<B>) : body;
      const { system, consumer } = attestedFields(payload);
      const item = system ?? consumer;
      if (caller && !allows(caller, spec.action, item)) {
        throw new HttpError(403, `the API key "${caller.name}" may not ${spec.action}${item === undefined ? '' : ` on "${item}"`}`);
      }
      const done = await useCases.operatorAction(p.id, spec.action, payload, caller?.name);
      const json: z.output<typeof actionResultSchema> = { accepted: true, requestId: done.requestId, action: done.action };
      return { status: 202, json };
    },
  });
}

const operatorRoutes: RouteSpec[] = [
  operatorRoute({
    path: '/erasures/:id/confirmations',
    action: 'confirmDeletion',
    summary: 'Confirm a manual or webhook system erased the subject',
    params: idParamsSchema,
    body: operatorBodies.confirmations,
  }),
  operatorRoute({
    path: '/erasures/:id/consumers/:consumer/complete',
    action: 'consumerCompleted',
    summary: 'A downstream consumer finished with the data',
    params: consumerParamsSchema,
    body: operatorBodies.consumerComplete,
    payload: (p, b) => ({ consumer: p.consumer, ...b }),
  }),
  operatorRoute({ path: '/erasures/:id/legal-hold', action: 'placeLegalHold', summary: 'Place a legal hold', params: idParamsSchema, body: operatorBodies.placeLegalHold }),
  operatorRoute({
    method: 'delete',
    path: '/erasures/:id/legal-hold',
    action: 'releaseLegalHold',
    summary: 'Release the legal hold',
    params: idParamsSchema,
    body: operatorBodies.releaseLegalHold,
  }),
  operatorRoute({ path: '/erasures/:id/extend', action: 'extendDeadline', summary: 'Extend the deadline (once, within the jurisdiction limit)', params: idParamsSchema, body: operatorBodies.extend }),
  operatorRoute({ path: '/erasures/:id/cancel', action: 'cancel', summary: 'Withdraw the request during its grace period', params: idParamsSchema, body: operatorBodies.cancel }),
  operatorRoute({
    path: '/erasures/:id/systems/:system/retry',
    action: 'retrySystem',
    summary: 'Retry a system that needs attention',
    params: systemParamsSchema,
    body: operatorBodies.retry,
    payload: (p, b) => ({ ...b, system: p.system }),
  }),
];

const reportRoutes: RouteSpec[] = [
  defineRoute({
    method: 'get',
    path: '/reports/erasures',
    scope: 'read',
    summary: 'The erasure report for auditors: per jurisdiction and in total, the requests received in [from, to) and what became of them (JSON or CSV)',
    input: { query: reportQuerySchema },
    responses: { 200: { description: 'The report (format=csv: text/csv, as a download)', schema: erasureReportSchema, alternatives: ['text/csv'] } },
    problems: { 503: 'The ledger could not be read; try again' },
    handler: async ({ query }, { useCases }) => {
      const report = await useCases.report({ from: query.from, to: query.to });
      if (query.format === 'json') return { json: report satisfies z.output<typeof erasureReportSchema> };
      return { text: formatReportCsv(report), contentType: 'text/csv; charset=utf-8', headers: { 'Content-Disposition': `attachment; filename="${reportFileName(report)}"` } };
    },
  }),
];

/** Every route of the API, in registration order. */
export const routes: readonly RouteSpec[] = [...publicRoutes, ...requestRoutes, ...operatorRoutes, ...reportRoutes, ...bulkRoutes, ...systemRoutes];
