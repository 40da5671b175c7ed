/**
 * The bulk operator actions' routes (src/use-cases/bulk.ts), part of the route table (./routes.ts):
 * `POST /bulk/confirm`, `/bulk/retry`, `/bulk/extend`, each with the scope of its action, and
 * `GET /bulk/batches/:batchId`. Batches have a level of their own, so that no batch id shares a path with an
 * action (a `GET /bulk/confirm` is a 405, not a lookup of batch "confirm").
 */
import type { z } from 'zod';
import { attestedFields } from '../domain';
import { bulkActions, type BulkAction } from '../use-cases';
import { actionScopes, allows } from './auth';
import { HttpError } from './errors';
import { defineRoute, type RouteSpec } from './route';
import { bulkBatchParamsSchema, bulkBatchSchema, bulkBodies, bulkDryRunSchema, bulkStartedSchema } from './schemas';

const summaries: Record<BulkAction, string> = {
  confirm: 'Confirm a manual or webhook system for every request a selection reaches (one Temporal batch signal)',
  retry: 'Retry a system for every request a selection reaches (one Temporal batch signal)',
  extend: 'Extend the deadline of every request a selection reaches (one Temporal batch signal)',
};

function bulkRoute(action: BulkAction): RouteSpec {
  const signal = bulkActions[action];
  return defineRoute({
    method: 'post',
    path: `/bulk/${action}`,
    scope: actionScopes[signal],
    summary: summaries[action],
    input: { body: bulkBodies[action] },
    responses: {
      200: { description: 'Dry run: how many open requests the selection reaches, and the first ids; nothing sent', schema: bulkDryRunSchema },
      202: { description: 'The batch is recorded and started; follow it at links.self', schema: bulkStartedSchema },
    },
    problems: {
      400: "Bad selection or payload, or Temporal refused the query (its message in detail)",
      403: 'The API key may not take this action, or not on this system',
      409: 'The selection reaches no open erasure request',
      429: 'Temporal is running as many batches as it allows; retry after the running one is done',
      503: 'Temporal or the ledger did not answer; try again',
    },
    handler: async ({ body, caller }, { useCases }) => {
      const b = body as z.output<(typeof bulkBodies)[BulkAction]>;
      const { system } = attestedFields(b.payload);
      if (caller && !allows(caller, signal, system)) {
        throw new HttpError(403, `the API key "${caller.name}" may not ${signal}${system === undefined ? '' : ` on "${system}"`}`);
      }
      if (b.dryRun) {
        const match = await useCases.bulkDryRun(action, b.selection, b.payload, caller?.name);
        const json: z.output<typeof bulkDryRunSchema> = { dryRun: true, ...match };
        return { json };
      }
      if (!caller) throw new HttpError(401, 'an API key is required');
      const started = await useCases.startBulk(action, b.selection, b.payload, caller.name);
      const json: z.output<typeof bulkStartedSchema> = { ...started, links: { self: `/bulk/batches/${started.batchId}` } };
      return { status: 202, headers: { Location: json.links.self }, json };
    },
  });
}

/** The bulk routes, in registration order. */
export const bulkRoutes: RouteSpec[] = [
  ...(Object.keys(bulkActions) as BulkAction[]).map(bulkRoute),
  defineRoute({
    method: 'get',
    path: '/bulk/batches/:batchId',
    scope: 'read',
    summary: "A bulk action's batch: who sent what to how many requests, Temporal's progress, and what the requests recorded",
    input: { params: bulkBatchParamsSchema },
    responses: { 200: { description: 'The batch', schema: bulkBatchSchema } },
    problems: { 404: 'Unknown batch', 503: 'Temporal or the ledger did not answer; try again' },
    handler: async ({ params }, { useCases }) => ({ json: await useCases.bulkStatus((params as { batchId: string }).batchId) }),
  }),
];
