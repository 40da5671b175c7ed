/**
 * Loading the catalog: YAML → `${ENV}` interpolation → schema. Errors name the file, the line, the path
 * inside the file and what is wrong, one line per mistake. A request's plan is built here too, each
 * system's part by its kind's descriptor.
 */
import fs from 'node:fs';
import YAML, { LineCounter, isCollection, type Document } from 'yaml';
import type { z } from 'zod';
import { catalogSchema, type Catalog } from './schema';
import { systemDescriptors, systemPlan } from '../systems/registry';
import type { ErasurePlan, JurisdictionPolicy } from '../domain';
import { refusedNotifySecrets } from '../notify/secrets';

export { systemPlan };

export class CatalogError extends Error {
  override readonly name = 'CatalogError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid catalog ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** The variables a catalog's `${VAR}` references read (the process environment). */
export type CatalogEnvironment = Readonly<Record<string, string | undefined>>;

export interface CatalogOptions {
  /**
   * Variables the catalog may not read (the engine's own secrets, `withheldFromCatalog` in src/config): a
   * reference to one is refused, saying so, and its value is never read.
   */
  withheld?: ReadonlySet<string>;
  /**
   * Values a system's secret field may not hold (in production, the examples the repository ships:
   * `catalogOptions` in src/config); such a field is refused, naming the `${VAR}` it came from.
   */
  refusedSecret?: (value: string) => boolean;
}

/** The secret fields (the kind's `secrets`) of each system that hold a refused value, named by their `${VAR}`s. */
function refusedSecrets(catalog: Catalog, raw: unknown, refused: (value: string) => boolean): Problem[] {
  const rawSystems = (raw as { systems?: unknown[] }).systems ?? [];
  return catalog.systems.flatMap((system, i) =>
    (systemDescriptors[system.kind].secrets as readonly string[]).flatMap((field) => {
      const value = (system as unknown as Record<string, unknown>)[field];
      if (typeof value !== 'string' || !refused(value)) return [];
      const written = (rawSystems[i] as Record<string, unknown> | undefined)?.[field];
      const names = typeof written === 'string' ? [...written.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]) : [];
      const what = names.length ? `environment variable ${names.join(', ')} holds` : 'holds';
      return [{ path: ['systems', i, field], message: `${what} an example value shipped with the engine, which anyone can read; set a secret of your own (openssl rand -hex 32)` }];
    }),
  );
}

/** Replaces `${NAME}` in every string with the environment's value; a missing variable is an error. */
function interpolate(value: unknown, env: CatalogEnvironment, opts: CatalogOptions, at: PropertyKey[], problems: Problem[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = opts.withheld?.has(name) ? undefined : env[name];
      if (v === undefined) {
        const why = opts.withheld?.has(name) ? "is one of the engine's own secrets, which a catalog cannot read" : 'is not set';
        problems.push({ path: at, message: `environment variable ${name} ${why}` });
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, opts, [...at, i], problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, opts, [...at, k], problems)]));
  }
  return value;
}

interface Problem {
  path: PropertyKey[];
  message: string;
}

export const formatPath = (path: readonly PropertyKey[]) =>
  path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '') || '(root)';

/** Rewrites zod's generic messages into ones that say what to change. */
function describe(issue: z.core.$ZodIssue): Problem[] {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => ({ path: [...issue.path, k], message: 'unknown key' }));
  return [describeOne(issue)];
}

function describeOne(issue: z.core.$ZodIssue): Problem {
  const path = [...issue.path];
  // Unions on `kind` and on a mask's `strategy` carry their own message, listing what is expected.
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
    return { path, message: 'is required' };
  }
  if (issue.code === 'invalid_type') return { path, message: `must be ${issue.expected}` };
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return { path, message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}` };
  }
  return { path, message: issue.message };
}

/** `line:col` of the YAML node at `path`, or of its nearest ancestor that exists. */
function locate(doc: Document, lines: LineCounter, path: PropertyKey[]): string | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range && (n === path.length || isCollection(node) || n === 0)) {
      const { line, col } = lines.linePos(range[0]);
      return `${line}:${col}`;
    }
  }
  return undefined;
}

/**
 * Parses catalog text, resolving `${VAR}` from `env` (`false` keeps the references as they are).
 * Problems read `file:line:col path: message`.
 * @example const catalog = parseCatalog(yamlText, 'catalog.yaml', process.env, { withheld: withheldFromCatalog });
 */
export function parseCatalog(text: string, file: string, env: CatalogEnvironment | false, opts: CatalogOptions = {}): Catalog {
  const lines = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new CatalogError(
      file,
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return `${file}:${line}:${col}: not valid YAML: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const problems: Problem[] = [];
  const data = env === false ? raw : interpolate(raw, env, opts, [], problems);
  const result = catalogSchema.safeParse(data);
  if (!result.success) {
    // A variable that is not set was reported already; the empty string it left behind would only add noise.
    const reported = new Set(problems.map((p) => formatPath(p.path)));
    problems.push(...result.error.issues.flatMap(describe).filter((p) => !reported.has(formatPath(p.path))));
  } else if (opts.refusedSecret) {
    problems.push(...refusedSecrets(result.data, raw, opts.refusedSecret), ...refusedNotifySecrets(result.data, raw, opts.refusedSecret));
  }
  if (problems.length) {
    throw new CatalogError(
      file,
      problems.map((p) => {
        const at = locate(doc, lines, p.path);
        return `${file}${at ? `:${at}` : ''} ${formatPath(p.path)}: ${p.message}`;
      }),
    );
  }
  return result.data!;
}

/**
 * Reads and validates a catalog file.
 * @example const catalog = loadCatalog('catalog.yaml', process.env, { withheld: withheldFromCatalog });
 */
export function loadCatalog(file: string, env: CatalogEnvironment, opts: CatalogOptions = {}): Catalog {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CatalogError(file, [`${file}: cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseCatalog(text, file, env, opts);
}

/** A request's plan: the catalog's systems and consumers and the jurisdiction's policy, frozen at intake. */
export function buildPlan(catalog: Catalog, policy: JurisdictionPolicy): ErasurePlan {
  return {
    policy,
    systems: catalog.systems.map(systemPlan),
    consumers: catalog.consumers.map((c) => ({ id: c.id, critical: c.critical, timeoutDays: c.timeout })),
  };
}
