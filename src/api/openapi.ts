/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
import { z } from 'zod';
import pkg from '../../package.json';
import { acceptedSchema, actionResultSchema, erasureRequestSchema, listQuerySchema, operatorBodies, problemSchema } from './schemas';

const json = (schema: z.ZodType, io: 'input' | 'output' = 'input') => z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' });
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });
const secured = (scope: string) => ({ security: [{ bearer: [scope] }, { apiKey: [scope] }] });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

function action(summary: string, schema: z.ZodType, extraParams: object[] = []) {
  return {
    summary,
    ...secured('operator'),
    parameters: [idParam, ...extraParams],
    requestBody: { required: true, content: { 'application/json': { schema: json(schema) } } },
    responses: {
      202: { description: 'Accepted by the workflow', content: { 'application/json': { schema: json(actionResultSchema, 'output') } } },
      400: problem('Invalid body'),
      401: problem('No or invalid API key'),
      403: problem('Key lacks the operator scope'),
      404: problem('Unknown request'),
      409: problem('The request state forbids this action (reason in detail)'),
    },
  };
}

let cached: object | undefined;

/** Builds (once) and returns the document served at /openapi.json. */
export function openApiDocument(): object {
  cached ??= {
    openapi: '3.1.0',
    info: { title: 'Erasure engine API', version: pkg.version, description: 'GDPR/CCPA erasure requests as durable Temporal workflows.' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'API key as a bearer token' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: { Problem: json(problemSchema, 'output') },
    },
    paths: {
      '/erasures': {
        post: {
          summary: 'Submit an erasure request',
          ...secured('intake'),
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } }],
          requestBody: { required: true, content: { 'application/json': { schema: json(erasureRequestSchema) } } },
          responses: {
            202: { description: 'Accepted (status accepted, or queued while Temporal is unreachable)', content: { 'application/json': { schema: json(acceptedSchema, 'output') } } },
            200: { description: 'The same idempotency key and body again: the existing request', content: { 'application/json': { schema: json(acceptedSchema, 'output') } } },
            400: problem('Invalid body; each field error listed'),
            401: problem('No or invalid API key'),
            403: problem('Key lacks the intake scope'),
            409: problem('Same idempotency key, different body'),
            413: problem('Body too large'),
            415: problem('Not application/json'),
          },
        },
        get: {
          summary: 'List erasures through Temporal visibility (search attributes)',
          ...secured('read'),
          parameters: Object.entries((json(listQuerySchema) as { properties: Record<string, object> }).properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
          responses: { 200: { description: 'One page of erasures' }, 400: problem('Invalid query') },
        },
      },
      '/erasures/{id}': { get: { summary: 'Status of one erasure', ...secured('read'), parameters: [idParam], responses: { 200: { description: 'Status' }, 404: problem('Unknown request') } } },
      '/erasures/{id}/certificate': {
        get: { summary: 'The signed erasure certificate', ...secured('read'), parameters: [idParam], responses: { 200: { description: 'Certificate' }, 404: problem('Unknown request or no certificate yet') } },
      },
      '/erasures/{id}/confirmations': { post: action('Confirm a manual or webhook system erased the subject', operatorBodies.confirmations) },
      '/erasures/{id}/consumers/{consumer}/complete': {
        post: action('A downstream consumer finished with the data', operatorBodies.consumerComplete, [{ name: 'consumer', in: 'path', required: true, schema: { type: 'string' } }]),
      },
      '/erasures/{id}/legal-hold': { post: action('Place a legal hold', operatorBodies.placeLegalHold), delete: action('Release the legal hold', operatorBodies.releaseLegalHold) },
      '/erasures/{id}/extend': { post: action('Extend the deadline (once, within the jurisdiction limit)', operatorBodies.extend) },
      '/erasures/{id}/cancel': { post: action('Withdraw the request during its grace period', operatorBodies.cancel) },
      '/erasures/{id}/systems/{system}/retry': {
        post: action('Retry a system that needs attention', operatorBodies.retry, [{ name: 'system', in: 'path', required: true, schema: { type: 'string' } }]),
      },
      '/.well-known/jwks.json': { get: { summary: 'Public keys that verify certificates (JWK set)', responses: { 200: { description: 'JWKS' } } } },
      '/healthz': { get: { summary: 'Liveness', responses: { 200: { description: 'Alive' } } } },
      '/readyz': { get: { summary: 'Readiness: database and Temporal reachable', responses: { 200: { description: 'Ready' }, 503: { description: 'Not ready' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'Metrics' } } } },
    },
  };
  return cached;
}
