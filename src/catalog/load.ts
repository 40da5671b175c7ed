/**
 * Loading the catalog: YAML → `${ENV}` interpolation → schema. Errors name the file, the path inside it
 * and what is wrong, one line per mistake.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { catalogSchema, type Catalog, type SystemConfig } from './schema';
import type { ErasurePlan, JurisdictionPolicy, SystemPlan } from '../workflows/definitions';

export class CatalogError extends Error {
  override readonly name = 'CatalogError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid catalog ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Replaces `${NAME}` in every string with the environment's value; a missing variable is an error. */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, at: string, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) {
        problems.push(`${at || '(root)'}: environment variable ${name} is not set`);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${at}[${i}]`, problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, at ? `${at}.${k}` : k, problems)]));
  }
  return value;
}

const formatPath = (path: PropertyKey[]) =>
  path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '') || '(root)';

/**
 * Parses catalog text. `interpolateEnv: false` keeps `${VAR}` references (used for plan snapshots).
 * @example const catalog = parseCatalog(yamlText, 'catalog.yaml', process.env);
 */
export function parseCatalog(text: string, file: string, env: NodeJS.ProcessEnv | false = process.env): Catalog {
  let raw: unknown;
  try {
    raw = YAML.parse(text) ?? {};
  } catch (err) {
    throw new CatalogError(file, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const problems: string[] = [];
  const data = env === false ? raw : interpolate(raw, env, '', problems);
  const result = catalogSchema.safeParse(data);
  if (!result.success) {
    for (const issue of result.error.issues) {
      let message = issue.message;
      if (issue.code === 'invalid_union' && issue.path.at(-1) === 'kind') message = 'unknown kind (expected postgres, s3, elasticsearch, webhook or manual)';
      problems.push(`${formatPath(issue.path)}: ${message}`);
    }
  }
  if (problems.length) throw new CatalogError(file, problems);
  return result.data!;
}

/** Reads and validates a catalog file. */
export function loadCatalog(file: string, env: NodeJS.ProcessEnv = process.env): Catalog {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CatalogError(file, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseCatalog(text, file, env);
}

/** Keys that hold secrets or connection details: never copied into a plan (workflow history). */
const secretKeys = new Set(['connection', 'secret', 'password', 'secretAccessKey', 'accessKeyId', 'username']);

/** The part of a system's config a plan snapshot keeps: what to erase, not how to connect. */
export function systemPlan(system: SystemConfig): SystemPlan {
  const spec = Object.fromEntries(Object.entries(system).filter(([k]) => !secretKeys.has(k)));
  const confirmation = system.kind === 'manual' || (system.kind === 'webhook' && system.confirmation === 'signal');
  return {
    id: system.id,
    kind: system.kind,
    mode: confirmation ? 'confirmation' : 'automated',
    softDelete: system.kind === 'postgres' && system.tables.some((t) => t.softDeleteColumn !== undefined),
    dependsOn: system.dependsOn,
    reminderEveryDays: system.kind === 'manual' || system.kind === 'webhook' ? system.reminderEvery : undefined,
    notify: system.kind === 'webhook' || system.kind === 'manual',
    spec,
  };
}

/** A request's plan: the catalog's systems and consumers and the jurisdiction's policy, frozen at intake. */
export function buildPlan(catalog: Catalog, policy: JurisdictionPolicy): ErasurePlan {
  return {
    policy,
    systems: catalog.systems.map(systemPlan),
    consumers: catalog.consumers.map((c) => ({ id: c.id, critical: c.critical, timeoutDays: c.timeout })),
  };
}
