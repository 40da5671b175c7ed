/**
 * Loaders: each process validates its environment once, at start-up, and passes typed values down.
 * A bad value stops the process with the variable's name and what is wrong, never with the value.
 */
import { z } from 'zod';
import { formatIssues } from '../domain';
import { configSchema, temporalConnectionRules, variableDocs } from './schema';
import { isExampleSecret, productionSecretProblems } from './secrets';

/** The environment as a process received it (what the catalog's `${VAR}` references may read). */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Raised when the environment does not describe a runnable engine; lists every problem at once. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const engineSchema = configSchema
  .extend({
    DATABASE_URL: configSchema.shape.DATABASE_URL.nonoptional('is required: the postgres:// URL of the engine database'),
  })
  .superRefine(temporalConnectionRules);

/** What the worker and the API run on. */
export type Config = z.infer<typeof engineSchema>;

/**
 * An empty value counts as unset: env files and compose files write `NAME=` for "not configured".
 * Only the schema's own keys are kept, so unrelated variables never matter.
 */
function presentValues(env: Environment, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') out[key] = value;
  }
  return out;
}

/**
 * The engine's own secrets and credentials (ledger URL, master key, signing key, subject secret, API keys,
 * codec token, and the files holding them): the catalog's `${VAR}` references cannot read them. Every
 * catalog the engine or its CLI loads passes this set to the loader, which refuses such a reference.
 * @example loadCatalog(file, process.env, { withheld: withheldFromCatalog });
 */
export const withheldFromCatalog: ReadonlySet<string> = new Set(
  Object.entries(configSchema.shape)
    .filter(([, schema]) => variableDocs.get(schema)?.withheldFromCatalog)
    .map(([name]) => name),
);


/**
 * Validates `env` against one of the schemas derived from {@link configSchema}.
 * @example const local = parseEnvironment(localRunSchema, process.env);
 */
export function parseEnvironment<S extends z.ZodObject>(schema: S, env: Environment): z.infer<S> {
  const result = schema.safeParse(presentValues(env, Object.keys(schema.shape)));
  if (!result.success) throw new ConfigError(`invalid configuration:\n  ${formatIssues(result.error, { separator: '\n  ' })}`);
  return result.data;
}

/**
 * Reads and validates the configuration of the worker and the API from an environment. With
 * `NODE_ENV=production` it also refuses a missing secret or one the repository ships as an example
 * (src/config/secrets.ts), naming the variable.
 * @example const config = loadConfig(process.env); createPool({ connectionString: config.DATABASE_URL });
 */
export function loadConfig(env: Environment = process.env): Config {
  const config = parseEnvironment(engineSchema, env);
  const problems = productionSecretProblems(env);
  if (problems.length) throw new ConfigError(`invalid configuration for production (NODE_ENV=production):\n  ${problems.join('\n  ')}`);
  return config;
}

/**
 * How the worker, the API and `config check` load the catalog: the engine's own secrets withheld from its
 * `${VAR}`s and, in production, a system secret (webhook `secret`, `hmacKey`, credentials) that holds an
 * example value shipped with the engine refused.
 * @example const catalog = loadCatalog(file, process.env, catalogOptions(config));
 */
export function catalogOptions(config: Pick<Config, 'NODE_ENV'>): { withheld: ReadonlySet<string>; refusedSecret?: (value: string) => boolean } {
  return config.NODE_ENV === 'production' ? { withheld: withheldFromCatalog, refusedSecret: isExampleSecret } : { withheld: withheldFromCatalog };
}

/**
 * Where the certificate signing key comes from: `SIGNING_KEY_PEM` or `SIGNING_KEY_FILE`, else one generated
 * in the data folder, never in production (`NODE_ENV=production`). The engine and `config check` both use it.
 * @example loadSigningKey({ ...signingKeySource(config), logger });
 */
export function signingKeySource(config: Pick<Config, 'SIGNING_KEY_PEM' | 'SIGNING_KEY_FILE' | 'ERASURE_DATA_DIR' | 'NODE_ENV'>, dataDir = config.ERASURE_DATA_DIR) {
  return { pem: config.SIGNING_KEY_PEM, file: config.SIGNING_KEY_FILE, dataDir, generate: config.NODE_ENV !== 'production' };
}

/** What `npm start` reads before it starts its servers; unset values are left for it to fill in. */
const localRunSchema = configSchema
  .pick({ LOG_LEVEL: true, ERASURE_DATA_DIR: true, PORT: true, LOCAL_PG_PORT: true, TEMPORAL_PORT: true, TEMPORAL_UI_PORT: true, KAFKA_PORT: true, KAFKA_BROKERS: true, DEMO_DATABASE_URL: true, DEMO_HMAC_KEY: true })
  .extend({
    CODEC_PORT: configSchema.shape.CODEC_PORT.unwrap().default(8888),
    CODEC_PATH_TOKEN: configSchema.shape.CODEC_PATH_TOKEN,
    CODEC_CORS_ORIGINS: configSchema.shape.CODEC_CORS_ORIGINS.unwrap().optional(),
    DATABASE_URL: configSchema.shape.DATABASE_URL,
    TEMPORAL_ADDRESS: configSchema.shape.TEMPORAL_ADDRESS.unwrap().optional(),
    ERASURE_CATALOG: configSchema.shape.ERASURE_CATALOG.unwrap().optional(),
    SUBJECT_HASH_SECRET: configSchema.shape.SUBJECT_HASH_SECRET.unwrap().optional(),
    ENGINE_MASTER_KEY: configSchema.shape.ENGINE_MASTER_KEY,
    ENGINE_MASTER_KEY_FILE: configSchema.shape.ENGINE_MASTER_KEY_FILE,
    API_KEYS: configSchema.shape.API_KEYS,
    SMTP_HOST: configSchema.shape.SMTP_HOST.unwrap().optional(),
    SMTP_PORT: configSchema.shape.SMTP_PORT,
    MAILPIT_PORT: configSchema.shape.MAILPIT_PORT,
    ENGINE_PUBLIC_URL: configSchema.shape.ENGINE_PUBLIC_URL.unwrap().optional(),
  });
export type LocalRunConfig = z.infer<typeof localRunSchema>;

/**
 * The local run's own settings (ports, data folder) and the engine values it generates when unset.
 * @example const local = loadLocalRunConfig(process.env); startPostgres({ port: local.LOCAL_PG_PORT, … });
 */
export function loadLocalRunConfig(env: Environment = process.env): LocalRunConfig {
  return parseEnvironment(localRunSchema, env);
}

const cliSchema = configSchema.pick({ DATABASE_URL: true, ERASURE_JWKS: true, ERASURE_API_URL: true, ERASURE_API_KEY: true });
export type CliConfig = z.infer<typeof cliSchema>;

/**
 * What the `erasure` commands read from the environment (their options win over it).
 * `only` limits validation to the variables a command is about to use, so a malformed one it never reads
 * cannot stop it.
 * @example const { ERASURE_JWKS } = loadCliConfig(process.env, ['ERASURE_JWKS']);
 */
export function loadCliConfig(env: Environment = process.env, only?: readonly (keyof CliConfig)[]): Partial<CliConfig> {
  if (!only) return parseEnvironment(cliSchema, env);
  return parseEnvironment(cliSchema.pick(Object.fromEntries(only.map((k) => [k, true])) as { [K in keyof CliConfig]?: true }), env);
}
