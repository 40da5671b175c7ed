/**
 * The engine's configuration: environment variables, validated once at start-up. Every key has a doc and a
 * default where one is sensible; a bad value fails fast with the variable's name and what is wrong.
 */
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);

export const configSchema = z.object({
  /** host:port of the Temporal frontend. */
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port').default('127.0.0.1:7233'),
  /** Temporal namespace the engine's workflows live in. */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue the worker polls and the API starts workflows on. */
  TASK_QUEUE: z.string().min(1).default('erasure'),
  /** The engine's own PostgreSQL database (ledger, outbox, keys). */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }),
  /** HTTP port of the API. */
  PORT: port.default(3000),
  /** Address the API binds to (0.0.0.0 in containers). */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Path to the systems catalog (YAML). */
  ERASURE_CATALOG: z.string().min(1).default('catalog.yaml'),
  /** Secret salt for subject references in logs and events (at least 16 characters). */
  SUBJECT_HASH_SECRET: z.string().min(16, 'must be at least 16 characters').default('dev-only-subject-hash-secret'),
  /** Prebuilt workflow bundle (`npx erasure bundle-workflows --out FILE`); unset: the worker bundles at start. */
  WORKFLOW_BUNDLE: z.string().min(1).optional(),
  /**
   * Workflow runs a worker keeps in memory; evicted runs replay from history when they wake. Unset: the SDK
   * sizes the cache from the V8 heap limit (about 600 runs per GiB above 200 MiB), so it never outgrows it.
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(2, 'must be at least 2').optional(),
  /** Log level of the structured logger. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof configSchema>;

/** Raised when the environment does not describe a runnable engine. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads and validates the configuration from an environment.
 * @example const config = loadConfig(process.env);
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
