/**
 * The OpenAPI 3.1 document, generated from the route table: the same declarations that validate
 * requests describe them, so the document cannot drift from what the API does.
 */
import { z } from 'zod';
import pkg from '../../package.json';
import type { ResponseSpec, RouteSpec } from './route';
import { problemSchema } from './schemas';

const json = (schema: z.ZodType, io: 'input' | 'output' = 'input') => z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' });
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });

/** `/erasures/:id` → `/erasures/{id}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

type ParameterIn = 'path' | 'query' | 'header';

function parameters(schema: z.ZodObject | undefined, where: ParameterIn): object[] {
  if (!schema) return [];
  const doc = json(schema) as { properties?: Record<string, { description?: string }>; required?: string[] };
  return Object.entries(doc.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (doc.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

function success(spec: ResponseSpec): object {
  if (spec.contentType) return { description: spec.description, content: { [spec.contentType]: { schema: { type: 'string' } } } };
  if (spec.schema) {
    const others = Object.fromEntries((spec.alternatives ?? []).map((type) => [type, { schema: { type: 'string' } }]));
    return { description: spec.description, content: { 'application/json': { schema: json(spec.schema, 'output') }, ...others } };
  }
  return { description: spec.description };
}

/** The problem answers a route gives: implied by its input and scope, plus its own. */
function problems(route: RouteSpec): Record<number, object> {
  const { input = {}, scope } = route;
  const out: Record<number, object> = {};
  const invalid = (['params', 'query', 'headers', 'body'] as const).filter((k) => input[k]);
  if (invalid.length) out[400] = problem(`Invalid ${invalid.join(', ')}; each field error listed`);
  if (scope !== 'public') {
    out[401] = problem('No or invalid API key');
    out[403] = problem(`Key lacks the ${scope} scope`);
  }
  if (input.body) {
    out[413] = problem('Body too large');
    out[415] = problem('Not application/json');
  }
  for (const [status, description] of Object.entries(route.problems ?? {})) out[Number(status)] = problem(description);
  return out;
}

function operation(route: RouteSpec): object {
  const { input = {} } = route;
  return {
    summary: route.summary,
    ...(route.scope === 'public' ? {} : { security: [{ bearer: [route.scope] }, { apiKey: [route.scope] }] }),
    parameters: [...parameters(input.params, 'path'), ...parameters(input.query, 'query'), ...parameters(input.headers, 'header')],
    ...(input.body ? { requestBody: { required: true, content: { 'application/json': { schema: json(input.body) } } } } : {}),
    responses: {
      ...Object.fromEntries(Object.entries(route.responses).map(([status, spec]) => [status, success(spec)])),
      ...problems(route),
    },
  };
}

/**
 * Builds the document for a route table.
 * @example app.get('/openapi.json', (_req, res) => res.json(openApiDocument(routes)));
 */
export function openApiDocument(routes: readonly RouteSpec[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of routes) (paths[openApiPath(route.path)] ??= {})[route.method] = operation(route);
  return {
    openapi: '3.1.0',
    info: { title: 'Erasure engine API', version: pkg.version, description: 'GDPR/CCPA erasure requests as durable Temporal workflows.' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'API key as a bearer token' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: { Problem: json(problemSchema, 'output') },
    },
    paths,
  };
}
