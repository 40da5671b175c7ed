/**
 * Every environment variable the engine reads, in one schema: its format, its default, and its
 * documentation (`.env.example`, docs/configuration.md and the README are checked against this list).
 * Nothing else in src/ reads a variable by name; processes get typed values from {@link loadConfig}.
 */
import { z } from 'zod';

/** Which processes read a variable (the documentation's "read by" column). */
export type Reader = 'worker' | 'api' | 'npm start' | 'cli';

export const groups = ['Temporal', 'Database and catalog', 'Keys and secrets', 'HTTP API', 'Codec server', 'Worker', 'Logging', 'Local run (npm start)', 'Command line'] as const;
export type Group = (typeof groups)[number];

/** The documentation of one variable. */
export interface VariableDoc {
  /** One or two sentences: what it is and when to set it. */
  doc: string;
  group: Group;
  readBy: readonly Reader[];
  /** How the default reads in docs; derived from the schema's default when omitted. */
  default?: string;
  /** Holds a secret: marked **Secret** in the documentation (no message ever shows any variable's value). */
  secret?: boolean;
  /** One of the engine's own secrets or credentials: the catalog's `${VAR}` references cannot read it. */
  withheldFromCatalog?: boolean;
}

/** Documentation of each variable's schema; filled by {@link variable} as the schema is built. */
export const variableDocs = z.registry<VariableDoc>();

function variable<T extends z.ZodType>(schema: T, doc: VariableDoc): T {
  variableDocs.add(schema, doc);
  return schema;
}

const port = () => z.coerce.number({ error: 'must be a port number' }).int('must be a port number').min(0, 'must be a port number (0-65535)').max(65535, 'must be a port number (0-65535)');
const text = () => z.string().min(1);
const databaseUrl = () =>
  z.url({ protocol: /^postgres(ql)?$/, error: (issue) => (issue.input === undefined ? 'is required: the postgres:// URL of the engine database' : 'must be a postgres:// URL') });
const api = ['api', 'npm start'] as const;
const engine = ['worker', 'api', 'npm start'] as const;

/** The Web UI's origins, comma-separated; each must be a bare http(s) origin (a trailing slash is tolerated). */
const originList = z
  .string()
  .transform((value, ctx) => {
    const origins = value.split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean);
    origins.forEach((origin, i) => {
      let url: URL | undefined;
      try {
        url = new URL(origin);
      } catch {
        url = undefined;
      }
      if (!url || !/^https?:$/.test(url.protocol) || url.origin !== origin) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} is not an origin like http://localhost:8233 (scheme, host and port only)` });
      }
    });
    if (origins.length === 0) ctx.addIssue({ code: 'custom', message: 'lists no origin' });
    return origins;
  });

export const configSchema = z.object({
  TEMPORAL_ADDRESS: variable(z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port').default('127.0.0.1:7233'), {
    doc: 'host:port of the Temporal frontend.',
    group: 'Temporal',
    readBy: engine,
    default: '`127.0.0.1:7233` (npm start: its own dev server)',
  }),
  TEMPORAL_NAMESPACE: variable(text().default('default'), { doc: "Temporal namespace of the engine's workflows.", group: 'Temporal', readBy: engine }),
  TASK_QUEUE: variable(text().default('erasure'), { doc: 'Task queue the worker polls and the API starts workflows on.', group: 'Temporal', readBy: engine }),

  DATABASE_URL: variable(databaseUrl().optional(), {
    doc: "The engine's own PostgreSQL database: ledger, certificates, outbox, wrapped data keys. The CLI's `verify` and `ledger check` read keys and certificates from it.",
    group: 'Database and catalog',
    readBy: ['worker', 'api', 'npm start', 'cli'],
    withheldFromCatalog: true,
    default: 'required by the worker and the API (npm start: its local PostgreSQL)',
  }),
  ERASURE_CATALOG: variable(text().default('catalog.yaml'), {
    doc: 'Path to the systems catalog (YAML). `${VAR}` references in it are read from the same environment.',
    group: 'Database and catalog',
    readBy: engine,
    default: '`catalog.yaml` (npm start: `examples/local-catalog.yaml`)',
  }),

  SUBJECT_HASH_SECRET: variable(z.string().min(16, 'must be at least 16 characters').default('dev-only-subject-hash-secret'), {
    doc: 'Secret salt of the subject references in logs, events and request rows (at least 16 characters). Required with `NODE_ENV=production` (`openssl rand -hex 32`).',
    group: 'Keys and secrets',
    readBy: engine,
    withheldFromCatalog: true,
    secret: true,
    default: 'a development value, never in production (npm start: generated in `.data/subject-hash-secret`)',
  }),
  ENGINE_MASTER_KEY: variable(text().optional(), {
    doc: 'Payload master key: 32 bytes as base64 or 64 hex characters (`openssl rand -base64 32`). Wraps every data key; set it or `ENGINE_MASTER_KEY_FILE`.',
    group: 'Keys and secrets',
    readBy: engine,
    withheldFromCatalog: true,
    secret: true,
    default: 'required, or its file (npm start: generated in `.data/master.key`)',
  }),
  ENGINE_MASTER_KEY_FILE: variable(text().optional(), {
    doc: 'Path to a file holding the master key (base64, hex, or 32 raw bytes), instead of `ENGINE_MASTER_KEY`.',
    group: 'Keys and secrets',
    readBy: engine,
    withheldFromCatalog: true,
  }),
  SIGNING_KEY_PEM: variable(text().optional(), {
    doc: 'Certificate signing key: an Ed25519 private key in PEM (PKCS#8); one line with literal `\\n` separators is accepted. Or `SIGNING_KEY_FILE`.',
    group: 'Keys and secrets',
    readBy: engine,
    withheldFromCatalog: true,
    secret: true,
    default: 'generated in `ERASURE_DATA_DIR` on the first start, unless `NODE_ENV=production`',
  }),
  SIGNING_KEY_FILE: variable(text().optional(), {
    doc: 'Path to the PEM file of the signing key, instead of `SIGNING_KEY_PEM`.',
    group: 'Keys and secrets',
    readBy: engine,
    withheldFromCatalog: true,
  }),
  ERASURE_DATA_DIR: variable(text().optional(), {
    doc: 'Folder where a process without a configured signing key keeps the one it generates (`signing-key.pem`); `npm start` keeps all its generated keys and databases there.',
    group: 'Keys and secrets',
    readBy: engine,
    default: 'unset: no key is generated (npm start: `.data` in the project)',
  }),
  NODE_ENV: variable(text().optional(), {
    doc: '`production` (as in the Docker image): the subject secret, the master key and the signing key must be set, no secret (these, `CODEC_PATH_TOKEN`, `API_KEYS`, the catalog\'s webhook secrets, masking keys and credentials) may be an example value shipped with the engine, and a missing signing key is an error instead of being generated. The process refuses to start, naming the variable.',
    group: 'Keys and secrets',
    readBy: engine,
  }),

  PORT: variable(port().default(3000), { doc: 'HTTP port of the API.', group: 'HTTP API', readBy: api }),
  HOST: variable(text().default('127.0.0.1'), { doc: 'Address the API and the codec server bind to (`0.0.0.0` in containers).', group: 'HTTP API', readBy: api }),
  API_KEYS: variable(text().optional(), {
    doc: 'API keys as `name:scope,scope:sha256hex` entries separated by `;` (scopes: intake, operator, read; the key itself is never configured, only its SHA-256).',
    group: 'HTTP API',
    readBy: api,
    withheldFromCatalog: true,
    secret: true,
    default: 'none: protected endpoints answer 401 (npm start: adds a generated key with every scope)',
  }),
  API_KEYS_FILE: variable(text().optional(), {
    doc: 'Path to a JSON file `[{"name", "hash", "scopes"}]` of more API keys; used together with `API_KEYS`.',
    group: 'HTTP API',
    readBy: api,
    withheldFromCatalog: true,
  }),

  CODEC_PORT: variable(port().optional(), {
    doc: 'Port of the codec server the Web UI decrypts payloads with; set, the API process also runs it.',
    group: 'Codec server',
    readBy: api,
    default: 'unset: no codec server (npm start: `8888`)',
  }),
  CODEC_PATH_TOKEN: variable(z.string().regex(/^[A-Za-z0-9_-]{16,}$/, 'must be at least 16 URL-safe characters (A-Z, a-z, 0-9, _ and -)').optional(), {
    doc: "Secret first path segment that authorises the codec server's callers (the Web UI sends no credentials): `http://host:CODEC_PORT/<token>`. Without it only operator API keys are accepted.",
    group: 'Codec server',
    readBy: api,
    withheldFromCatalog: true,
    secret: true,
    default: 'unset (npm start: generated in `.data/codec-path-token`)',
  }),
  CODEC_CORS_ORIGINS: variable(originList.default(['http://localhost:8233']), {
    doc: 'Browser origins allowed to call the codec server, comma-separated (the Web UI\'s).',
    group: 'Codec server',
    readBy: api,
    default: '`http://localhost:8233` (npm start: the Web UI on localhost and 127.0.0.1)',
  }),

  WORKFLOW_BUNDLE: variable(text().optional(), {
    doc: 'Prebuilt workflow code (`npx erasure bundle-workflows --out FILE`); a worker refuses a bundle built from other sources.',
    group: 'Worker',
    readBy: ['worker', 'npm start'],
    default: 'unset: the worker bundles at start-up',
  }),
  WORKER_MAX_CACHED_WORKFLOWS: variable(z.coerce.number().int('must be a whole number').min(2, 'must be at least 2').optional(), {
    doc: 'Workflow runs a worker keeps in memory; evicted runs replay from history when they wake. Unset, the worker allows about 600 per GiB of old-generation heap above 200 MiB, so bound the memory with `NODE_OPTIONS=--max-old-space-size=MiB` and the cache follows.',
    group: 'Worker',
    readBy: ['worker', 'npm start'],
    default: 'from the heap limit',
  }),
  NODE_OPTIONS: variable(z.string().optional(), {
    doc: "Node's own options. The worker reads `--max-old-space-size=MiB` from it (or from its command line) to size the workflow cache from the old-generation heap, which holds the cached runs; the young generation, larger on Node 24 than on 22, does not count.",
    group: 'Worker',
    readBy: ['worker', 'npm start'],
    default: 'unset (V8 sizes the heap from the machine)',
  }),
  ERASURE_TRANSIENT_WINDOW: variable(
    z
      .string()
      .regex(/^\d+\s*[smh]$/, 'must be a duration such as 90s, 15m or 2h')
      .transform((v) => Number.parseInt(v, 10) * { s: 1_000, m: 60_000, h: 3_600_000 }[v.trim().slice(-1) as 's' | 'm' | 'h'])
      .refine((ms) => ms >= 60_000 && ms <= 86_400_000, 'must be between 1m and 24h')
      .default(15 * 60_000),
    {
      doc: 'How long a transient fault of a system (a server starting, recovering or failing over, a refused connection, throttling) may last, from the first try of a step, before the system is put in `needs_attention`: `90s`, `15m`, `2h` (1m to 24h).',
      group: 'Worker',
      readBy: ['worker', 'npm start'],
      default: '`15m`',
    },
  ),

  LOG_LEVEL: variable(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), {
    doc: 'Level of the structured (pino) logger: fatal, error, warn, info, debug, trace or silent.',
    group: 'Logging',
    readBy: engine,
  }),

  LOCAL_PG_PORT: variable(port().default(5433), { doc: 'Port of the PostgreSQL that `npm start` runs.', group: 'Local run (npm start)', readBy: ['npm start'] }),
  TEMPORAL_PORT: variable(port().default(7233), { doc: 'Port of the Temporal dev server that `npm start` runs.', group: 'Local run (npm start)', readBy: ['npm start'] }),
  TEMPORAL_UI_PORT: variable(port().default(8233), { doc: 'Port of its Temporal Web UI.', group: 'Local run (npm start)', readBy: ['npm start'] }),
  DEMO_DATABASE_URL: variable(databaseUrl().optional(), {
    doc: 'The demo database of `examples/local-catalog.yaml` (the catalog reads it as `${DEMO_DATABASE_URL}`).',
    group: 'Local run (npm start)',
    readBy: ['npm start'],
    default: 'the `demo` database of the local PostgreSQL',
  }),
  DEMO_HMAC_KEY: variable(text().optional(), {
    doc: 'Masking key of the demo catalog (`${DEMO_HMAC_KEY}`).',
    group: 'Local run (npm start)',
    readBy: ['npm start'],
    secret: true,
    default: 'generated in `.data/demo-hmac-key`',
  }),

  ERASURE_JWKS: variable(text().optional(), {
    doc: 'Trusted public keys of `npx erasure verify` and `verify-subject`: a JWKS file or URL, a single JWK, or a PEM public key (`--jwks` wins).',
    group: 'Command line',
    readBy: ['cli'],
    default: 'unset: the keys in `DATABASE_URL`',
  }),
});

export type ConfigVariables = z.infer<typeof configSchema>;
export type VariableName = keyof typeof configSchema.shape;
export const variableNames = Object.keys(configSchema.shape) as VariableName[];

