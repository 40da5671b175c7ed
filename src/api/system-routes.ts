/**
 * The catalog's systems and their pause (src/use-cases/pause.ts), part of the route table (./routes.ts):
 * `GET /systems`, `POST /systems/:system/pause`, `POST /systems/:system/resume` and `GET /systems/pauses`
 * (the audit log of every pause and resume). Pausing takes the `pause` scope (or `operator`).
 */
import { z } from 'zod';
import { id as catalogIdSchema } from '../systems/fields';
import { HttpError } from './errors';
import { defineRoute, type RouteSpec } from './route';

const systemOnlyParams = z.object({ system: catalogIdSchema.describe('A system id from the catalog') });
const iso = z.iso.datetime({ offset: true });

const pauseSchema = z.object({
  systemId: z.string(),
  pausedAt: iso,
  pausedBy: z.string().describe('The API key that paused it'),
  reason: z.string(),
});

export const systemsSchema = z.object({
  systems: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      mode: z.enum(['automated', 'confirmation']),
      paused: pauseSchema.optional().describe('Present while the system is paused for every request'),
    }),
  ),
});

/**
 * At least three characters once trimmed, said so the schema can say it too: somewhere two characters that
 * are not white space (as `String.prototype.trim` counts it, spelt out so every regex dialect agrees) with
 * at least one character between them. Trimming keeps or loses such a pair together, so the raw body and the
 * trimmed reason pass or fail alike.
 */
const notBlank = /[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff][\s\S]+[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;

export const pauseBodySchema = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(3)
    .max(200)
    .regex(notBlank, 'at least 3 characters besides white space')
    .describe('Why (maintenance, a broken connector, until when); shown to operators and kept in the audit log. No personal data.'),
});
export const resumeBodySchema = z.strictObject({});

export const pauseAnswerSchema = z.object({
  system: z.string(),
  paused: z.boolean(),
  pause: pauseSchema.optional().describe('The pause in force (after a pause) or the one that ended (after a resume)'),
  changed: z.boolean().describe('False when the system already was in this state: nothing was logged or sent'),
  notified: z.number().int().nonnegative().describe('Running requests waiting for the system that were told at once'),
  batchJobId: z.string().optional().describe("Temporal's batch job carrying the notice"),
});

export const pauseLogSchema = z.object({
  entries: z.array(
    z.object({
      systemId: z.string(),
      action: z.enum(['paused', 'resumed']),
      actor: z.string(),
      reason: z.string().nullable(),
      at: iso,
      notified: z.number().int().nullable(),
    }),
  ),
});
const pauseLogQuery = z.strictObject({ system: catalogIdSchema.optional().describe('Only this system') });

const problems = {
  400: 'Bad system id or body, or a system its owner confirms (nothing to pause)',
  404: 'The system is not in the catalog',
  503: 'The ledger did not answer; nothing changed, try again',
};

/** The systems routes, in registration order. */
export const systemRoutes: RouteSpec[] = [
  defineRoute({
    method: 'get',
    path: '/systems',
    scope: 'read',
    summary: "The catalog's systems, and which are paused for every request",
    responses: { 200: { description: 'The systems', schema: systemsSchema } },
    problems: { 503: 'The ledger did not answer; try again' },
    handler: async (_args, { useCases }) => ({ json: (await useCases.systems()) satisfies z.output<typeof systemsSchema> }),
  }),
  defineRoute({
    method: 'get',
    path: '/systems/pauses',
    scope: 'read',
    summary: 'The audit log of pauses and resumes (who, when, why, how many requests were told), newest first',
    input: { query: pauseLogQuery },
    responses: { 200: { description: 'The log', schema: pauseLogSchema } },
    problems: { 503: 'The ledger did not answer; try again' },
    handler: async ({ query }, { useCases }) => ({ json: (await useCases.pauseHistory((query as z.output<typeof pauseLogQuery>).system)) satisfies z.output<typeof pauseLogSchema> }),
  }),
  defineRoute({
    method: 'post',
    path: '/systems/:system/pause',
    scope: 'pause',
    summary: 'Pause one system for every request: its erasures and verifications wait, without spending retries, until it is resumed',
    input: { params: systemOnlyParams, body: pauseBodySchema },
    responses: { 200: { description: 'Paused (or already paused: changed is false)', schema: pauseAnswerSchema } },
    problems,
    handler: async ({ params, body, caller }, { useCases }) => {
      if (!caller) throw new HttpError(401, 'an API key is required');
      const { system } = params as z.output<typeof systemOnlyParams>;
      const json = await useCases.pauseSystem(system, (body as z.output<typeof pauseBodySchema>).reason, caller.name);
      return { json: json satisfies z.output<typeof pauseAnswerSchema> };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/systems/:system/resume',
    scope: 'pause',
    summary: 'Resume a paused system: every request waiting for it goes on at once',
    input: { params: systemOnlyParams, body: resumeBodySchema },
    responses: { 200: { description: 'Resumed (or was not paused: changed is false)', schema: pauseAnswerSchema } },
    problems,
    handler: async ({ params, caller }, { useCases }) => {
      if (!caller) throw new HttpError(401, 'an API key is required');
      const { system } = params as z.output<typeof systemOnlyParams>;
      return { json: (await useCases.resumeSystem(system, caller.name)) satisfies z.output<typeof pauseAnswerSchema> };
    },
  }),
];
