/**
 * The systems catalog file: which systems hold personal data (each validated by its kind's schema from
 * the registry in src/systems), and which downstream consumers must finish first. Types flow from it.
 *
 * Schemas are strict on purpose: a misspelt key (`prefixs:`) would otherwise be dropped silently and the
 * system would erase nothing while reporting success.
 */
import { z } from 'zod';
import { durationDays, id } from '../systems/fields';
import { systemDescriptors, systemKinds, type SystemConfig, type SystemKind } from '../systems/registry';
import { findCycles } from './dependencies';

type KindSchema = (typeof systemDescriptors)[SystemKind]['schema'];
const kindSchemas = systemKinds.map((kind) => systemDescriptors[kind].schema) as [KindSchema, ...KindSchema[]];

/** One system of any kind, told apart by `kind`. */
export const systemSchema = z.discriminatedUnion('kind', kindSchemas, { error: `unknown kind (expected ${systemKinds.join(', ')})` });

export const consumerSchema = z
  .object({
    id,
    critical: z.boolean().default(false),
    timeout: durationDays.default(3),
  })
  .strict();

export const catalogSchema = z
  .object({
    systems: z.array(systemSchema).default([]),
    consumers: z.array(consumerSchema).default([]),
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
