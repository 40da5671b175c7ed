/**
 * The systems catalog file: which systems hold personal data (each validated by its kind's schema from
 * the registry in src/systems), and which downstream consumers must finish first. Types flow from it.
 *
 * Schemas are strict on purpose: a misspelt key (`prefixs:`) would otherwise be dropped silently and the
 * system would erase nothing while reporting success.
 */
import { z } from 'zod';
import { durationDays, httpUrl, id, identifier } from '../systems/fields';
import { systemDescriptors, systemKinds, type SystemConfig, type SystemKind } from '../systems/registry';
import { findCycles } from './dependencies';
import { escalationSchema, notifyTargetsSchema } from '../notify/schema';

type KindSchema = (typeof systemDescriptors)[SystemKind]['schema'];
const kindSchemas = systemKinds.map((kind) => systemDescriptors[kind].schema) as [KindSchema, ...KindSchema[]];

/** One system of any kind, told apart by `kind`. */
export const systemSchema = z.discriminatedUnion('kind', kindSchemas, { error: `unknown kind (expected ${systemKinds.join(', ')})` });

/** A consumer told by signed POST instead of Kafka (the webhook systems' signature, src/systems/webhook). */
const webhookAnnounceSchema = z
  .object({
    webhook: httpUrl,
    /** HMAC-SHA256 signing secret of the body, usually `${VAR}`. */
    secret: z.string().min(16, 'must be at least 16 characters'),
  })
  .strict();

/**
 * A downstream consumer that must finish with the data first. Only `id`, `critical` and `timeout` enter a
 * request's plan; how it is told (`announce`, `topic`) and which identifiers it gets stay in the worker.
 */
export const consumerSchema = z
  .object({
    id,
    critical: z.boolean().default(false),
    timeout: durationDays.default(3),
    /**
     * Identifiers the consumer needs to find the subject's data, sent to it alone: on its own topic, or in its
     * webhook's body. Without them it gets the shared announcement, which carries only the subject reference.
     */
    identifiers: z
      .array(identifier)
      .min(1, 'list at least one identifier, or leave the key out')
      .refine((names) => new Set(names).size === names.length, 'lists an identifier twice')
      .optional(),
    /** The consumer's own topic, for its identifiers (default `erasure.consumer.<id>`). */
    topic: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name (letters, digits, ".", "_", "-")').optional(),
    /** `kafka` (the shared topic, plus its own for identifiers) or a signed webhook. */
    announce: z.union([z.literal('kafka'), webhookAnnounceSchema], { error: 'must be kafka or { webhook: <url>, secret: <secret> }' }).default('kafka'),
    /** Who is told when this consumer is escalated (a critical consumer late): e-mail, chat webhook (src/notify). */
    notify: notifyTargetsSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.topic !== undefined && c.announce !== 'kafka') ctx.addIssue({ code: 'custom', path: ['topic'], message: 'a consumer announced by webhook has no topic' });
    else if (c.topic !== undefined && c.identifiers === undefined) ctx.addIssue({ code: 'custom', path: ['topic'], message: 'its own topic carries identifiers: list them (identifiers: [...]) or leave the topic out' });
  });

export const catalogSchema = z
  .object({
    systems: z.array(systemSchema).default([]),
    consumers: z.array(consumerSchema).default([]),
    /** The escalation contacts: escalations, overdue requests and requests needing an operator (src/notify). */
    escalation: escalationSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.systems.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['systems', i, 'id'], message: `duplicate system id "${s.id}"` });
      seen.add(s.id);
    });
    c.systems.forEach((s, i) =>
      s.dependsOn.forEach((d, j) => {
        if (!seen.has(d)) ctx.addIssue({ code: 'custom', path: ['systems', i, 'dependsOn', j], message: `unknown system "${d}"` });
        if (d === s.id) ctx.addIssue({ code: 'custom', path: ['systems', i, 'dependsOn', j], message: 'a system cannot depend on itself' });
      }),
    );
    for (const cycle of findCycles(c.systems)) {
      const at = c.systems.findIndex((s) => s.id === cycle[0]);
      ctx.addIssue({ code: 'custom', path: ['systems', at, 'dependsOn'], message: `dependsOn cycle: ${cycle.join(' → ')}` });
    }
    const consumers = new Set<string>();
    c.consumers.forEach((k, i) => {
      if (consumers.has(k.id)) ctx.addIssue({ code: 'custom', path: ['consumers', i, 'id'], message: `duplicate consumer id "${k.id}"` });
      consumers.add(k.id);
    });
  });

export type Catalog = z.infer<typeof catalogSchema>;
export type ConsumerConfig = z.infer<typeof consumerSchema>;
export type { SystemConfig, SystemKind };
