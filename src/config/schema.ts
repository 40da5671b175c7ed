/**
 * Every environment variable the engine reads, in one schema: its format, its default, and its
 * documentation (`.env.example`, docs/configuration.md and the README are checked against this list).
 * Nothing else in src/ reads a variable by name; processes get typed values from {@link loadConfig}.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';

/** Which processes read a variable (the documentation's "read by" column). */
export type Reader = 'worker' | 'api' | 'npm start' | 'cli';

export const groups = ['Temporal', 'Database and catalog', 'Keys and secrets', 'HTTP API', 'Codec server', 'Worker', 'Events (Kafka)', 'Notifications', 'Logging', 'Local run (npm start)', 'Command line'] as const;
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
/** A Kafka topic name: the characters and length the broker accepts. */
const topicName = () => z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)');
const httpUrl = () => z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
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

/**
 * A PEM file the Temporal connection reads, checked at start-up: readable, and holding a certificate (or an
 * unencrypted private key) Node can parse. Like every message here, these never repeat the value: a key pasted
 * into the variable instead of its path must not end up in a log.
 */
const pemFile = (kind: 'certificate' | 'private key') =>
  text().superRefine((file, ctx) => {
    const problem = pemProblem(file, kind);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const readErrors: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory', ENAMETOOLONG: 'not a file name' };

/** Why a file cannot be read, by its error code (the Node message would repeat the path). */
export function unreadable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
  return `cannot read the file it names (${code}${readErrors[code] ? `: ${readErrors[code]}` : ''})`;
}

function pemProblem(file: string, kind: 'certificate' | 'private key'): string | undefined {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return unreadable(err);
  }
  const marker = kind === 'certificate' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN (RSA |EC )?PRIVATE KEY-----/;
  try {
    if (!marker.test(pem)) throw new Error('no PEM block');
    if (kind === 'certificate') new X509Certificate(pem);
    else createPrivateKey(pem);
  } catch {
    return kind === 'certificate' ? 'names a file that holds no PEM certificate (-----BEGIN CERTIFICATE-----)' : 'names a file that holds no unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)';
  }
  return undefined;
}

/**
 * The rules between the Temporal connection's variables, checked with the rest of the configuration: a client
 * certificate comes with its key (and matches it), and nothing that needs TLS is set while `TEMPORAL_TLS=false`.
 * @example engineSchema.superRefine(temporalConnectionRules)
 */
export function temporalConnectionRules(config: Partial<Record<VariableName, unknown>>, ctx: z.RefinementCtx): void {
  const cert = config.TEMPORAL_TLS_CERT_FILE as string | undefined;
  const key = config.TEMPORAL_TLS_KEY_FILE as string | undefined;
  if (cert && !key) ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS_KEY_FILE'], message: 'is required with TEMPORAL_TLS_CERT_FILE: a client certificate is only usable with its private key' });
  if (key && !cert) ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS_CERT_FILE'], message: 'is required with TEMPORAL_TLS_KEY_FILE: the private key needs its client certificate' });
  if (cert && key && !pemProblem(cert, 'certificate') && !pemProblem(key, 'private key')) {
    if (!new X509Certificate(fs.readFileSync(cert)).checkPrivateKey(createPrivateKey(fs.readFileSync(key)))) {
      ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS_KEY_FILE'], message: 'is not the private key of the certificate in TEMPORAL_TLS_CERT_FILE' });
    }
  }
  if (config.TEMPORAL_TLS !== false) return;
  if (config.TEMPORAL_API_KEY) {
    ctx.addIssue({ code: 'custom', path: ['TEMPORAL_API_KEY'], message: 'needs TLS, but TEMPORAL_TLS=false: Temporal Cloud accepts API keys only over TLS, and a key sent in clear text can be read on the way (unset TEMPORAL_TLS or set it to true)' });
  }
  for (const name of ['TEMPORAL_TLS_CA_FILE', 'TEMPORAL_TLS_CERT_FILE', 'TEMPORAL_TLS_KEY_FILE', 'TEMPORAL_TLS_SERVER_NAME'] as const) {
    if (config[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'configures TLS, but TEMPORAL_TLS=false (unset one of them)' });
  }
}

export const configSchema = z.object({
  TEMPORAL_ADDRESS: variable(z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port').default('127.0.0.1:7233'), {
    doc: 'host:port of the Temporal frontend.',
    group: 'Temporal',
    readBy: engine,
    default: '`127.0.0.1:7233` (npm start: its own dev server)',
  }),
  TEMPORAL_NAMESPACE: variable(text().default('default'), { doc: "Temporal namespace of the engine's workflows.", group: 'Temporal', readBy: engine }),
  TASK_QUEUE: variable(text().default('erasure'), { doc: 'Task queue the worker polls and the API starts workflows on.', group: 'Temporal', readBy: engine }),
  TEMPORAL_TLS: variable(z.stringbool({ error: 'must be true or false' }).optional(), {
    doc: 'Connect to Temporal over TLS. Set `false` only to refuse TLS explicitly; any TLS file, `TEMPORAL_TLS_SERVER_NAME` or `TEMPORAL_API_KEY` turns it on, and contradicts `false`.',
    group: 'Temporal',
    readBy: engine,
    default: 'on when a TLS file, the server name or the API key is set, else off',
  }),
  TEMPORAL_TLS_CA_FILE: variable(pemFile('certificate').optional(), {
    doc: "PEM file of the CA that signed the Temporal frontend's certificate (self-hosted clusters with a private CA); unset, the system's trusted roots are used, as for Temporal Cloud.",
    group: 'Temporal',
    readBy: engine,
    default: "unset: the system's trusted roots",
  }),
  TEMPORAL_TLS_CERT_FILE: variable(pemFile('certificate').optional(), {
    doc: 'PEM file of the client certificate for mTLS (a self-hosted cluster that requires client certificates, or a Temporal Cloud namespace with mTLS); needs `TEMPORAL_TLS_KEY_FILE`.',
    group: 'Temporal',
    readBy: engine,
    default: 'unset: no client certificate',
  }),
  TEMPORAL_TLS_KEY_FILE: variable(pemFile('private key').optional(), {
    doc: 'PEM file of the private key (unencrypted) of `TEMPORAL_TLS_CERT_FILE`; both are read at start-up, so restart the processes after rotating them.',
    group: 'Temporal',
    readBy: engine,
    withheldFromCatalog: true,
    default: 'unset: no client certificate',
  }),
  TEMPORAL_TLS_SERVER_NAME: variable(z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a host name').optional(), {
    doc: "Name to expect in the frontend's certificate (and to send as SNI) when it differs from the host of `TEMPORAL_ADDRESS`, e.g. behind a load balancer reached by IP.",
    group: 'Temporal',
    readBy: engine,
    default: 'the host of `TEMPORAL_ADDRESS`',
  }),
  TEMPORAL_API_KEY: variable(z.string().regex(/^\S+$/, 'must be one line without spaces').optional(), {
    doc: 'API key sent as `Authorization: Bearer …` on every Temporal call (Temporal Cloud API-key authentication); implies TLS.',
    group: 'Temporal',
    readBy: engine,
    withheldFromCatalog: true,
    secret: true,
    default: 'unset: no API key',
  }),

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
    doc: '`production` (as in the Docker image): the subject secret, the master key and the signing key must be set, no secret (these, `CODEC_PATH_TOKEN`, `API_KEYS`, `TEMPORAL_API_KEY`, the catalog\'s webhook secrets, masking keys and credentials) may be an example value shipped with the engine, and a missing signing key is an error instead of being generated. The process refuses to start, naming the variable.',
    group: 'Keys and secrets',
    readBy: engine,
  }),

  PORT: variable(port().default(3000), { doc: 'HTTP port of the API.', group: 'HTTP API', readBy: api }),
  HOST: variable(text().default('127.0.0.1'), { doc: 'Address the API and the codec server bind to (`0.0.0.0` in containers).', group: 'HTTP API', readBy: api }),
  API_KEYS: variable(text().optional(), {
    doc: 'API keys as `name:scope,scope:sha256hex` entries separated by `;` (scopes: intake, read, certificates, operator, confirm, consumer, hold, extend, cancel, retry, and confirm@<system>, consumer@<consumer>, retry@<system>; the key itself is never configured, only its SHA-256).',
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
    doc: "Secret first path segment that authorises the codec server's callers (the Web UI sends no credentials): `http://host:CODEC_PORT/<token>`. Whoever holds the URL may decode, so decodes through it are recorded as anonymous (`path-token`): meant for the local run. Without it only operator API keys and, with `CODEC_OIDC_ISSUER`, operators' access tokens are accepted.",
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
  CODEC_OIDC_ISSUER: variable(httpUrl().optional(), {
    doc: "The operators' identity provider, as the `iss` of its tokens (exactly, trailing slash included). Set with `CODEC_OIDC_JWKS_URL` and `CODEC_OIDC_AUDIENCE`, the codec server accepts the access token the Web UI forwards (\"pass access token\") and records decodes under `oidc:<sub>`.",
    group: 'Codec server',
    readBy: api,
    default: 'unset: no access tokens accepted',
  }),
  CODEC_OIDC_JWKS_URL: variable(httpUrl().optional(), {
    doc: "Where the identity provider publishes its signing keys (the `jwks_uri` of `<issuer>/.well-known/openid-configuration`). Required with `CODEC_OIDC_ISSUER`.",
    group: 'Codec server',
    readBy: api,
    default: 'unset (required with `CODEC_OIDC_ISSUER`)',
  }),
  CODEC_OIDC_AUDIENCE: variable(text().optional(), {
    doc: 'An audience (`aud`) the forwarded access token must name, so a token issued for another application is refused. Required with `CODEC_OIDC_ISSUER`.',
    group: 'Codec server',
    readBy: api,
    default: 'unset (required with `CODEC_OIDC_ISSUER`)',
  }),
  CODEC_OIDC_REQUIRED_CLAIM: variable(z.string().regex(/^[^=\s]+=\S.*$/, 'must be name=value, e.g. groups=erasure-operators').optional(), {
    doc: 'A claim the access token must hold, `name=value` (`groups=erasure-operators`; a dotted name reads a nested claim, `realm_access.roles=erasure-operator`); a token without it gets 403.',
    group: 'Codec server',
    readBy: api,
    default: 'unset: any operator the provider signs in',
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
  KAFKA_BROKERS: variable(
    z
      .string()
      .transform((v) => v.split(',').map((b) => b.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'each broker must be host:port')).min(1, 'name at least one broker (host:port)'))
      .optional(),
    {
      doc: 'Kafka bootstrap brokers, `host:port` separated by commas. Set, the engine publishes its events there (from the outbox), announces requests to consumers and reads completions and intake; unset, events wait in the outbox and no Kafka consumer runs (`npm start` sets it to its own broker).',
      group: 'Events (Kafka)',
      readBy: engine,
      default: 'unset: no Kafka',
    },
  ),
  KAFKA_EVENTS_TOPIC: variable(topicName().default('erasure.events'), {
    doc: "Topic of the engine's events for downstream (`erasure.requested` and the lifecycle events), keyed by request id; it never carries identifiers.",
    group: 'Events (Kafka)',
    readBy: engine,
  }),
  KAFKA_EVENTS_PARTITIONS: variable(z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(3), {
    doc: 'Partitions the API gives the events topic when it creates it at start (an existing topic keeps its own). Each request stays on one partition, in order.',
    group: 'Events (Kafka)',
    readBy: api,
  }),
  KAFKA_COMPLETIONS_TOPIC: variable(topicName().default('erasure.consumer-completions'), {
    doc: 'Topic consumers answer on when they have finished with a request: `{requestId, consumer, status, note?}`, each turned into the `consumerCompleted` action.',
    group: 'Events (Kafka)',
    readBy: api,
  }),
  KAFKA_COMPLETIONS_GROUP: variable(text().default('erasure-engine-completions'), {
    doc: 'Consumer group the API reads the completions topic with; every API process joins it, so each answer is handled once.',
    group: 'Events (Kafka)',
    readBy: api,
  }),
  KAFKA_COMPLETIONS_DEAD_LETTER_TOPIC: variable(topicName().default('erasure.consumer-completions.dead-letter'), {
    doc: 'Where an answer that cannot be applied goes (unknown request or consumer, malformed), with the reason, partition and offset.',
    group: 'Events (Kafka)',
    readBy: api,
  }),
  KAFKA_INTAKE: variable(z.stringbool({ error: 'must be true or false' }).default(true), {
    doc: 'Read erasure requests from the intake topic (the API process does, when `KAFKA_BROKERS` is set). `false` leaves HTTP as the only way in.',
    group: 'Events (Kafka)',
    readBy: api,
    default: '`true` (only with `KAFKA_BROKERS`)',
  }),
  KAFKA_INTAKE_TOPIC: variable(topicName().default('erasure.intake'), {
    doc: 'Topic erasure requests arrive on: each message is the body of `POST /erasures`, with `requestId` required.',
    group: 'Events (Kafka)',
    readBy: api,
  }),
  KAFKA_INTAKE_GROUP: variable(text().default('erasure-engine-intake'), {
    doc: 'Consumer group the API reads the intake topic with; every API process joins it, so each request is taken once.',
    group: 'Events (Kafka)',
    readBy: api,
  }),
  KAFKA_INTAKE_DEAD_LETTER_TOPIC: variable(topicName().default('erasure.intake.dead-letter'), {
    doc: 'Where an intake message that cannot be accepted goes (not JSON, invalid, no `requestId`, a `requestId` reused with another body): the reason, its partition and offset and a SHA-256 of it, never its content.',
    group: 'Events (Kafka)',
    readBy: api,
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

  SMTP_HOST: variable(z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'must be a host name or address').default('localhost'), {
    doc: "Mail server the worker sends notifications through (the catalog's `notify.email` addresses). `npm start` runs mailpit there.",
    group: 'Notifications',
    readBy: ['worker', 'npm start'],
  }),
  SMTP_PORT: variable(port().default(1025), {
    doc: 'Port of the mail server (`npm start` runs mailpit on it; 587 for STARTTLS submission, 465 with `SMTP_TLS=tls`).',
    group: 'Notifications',
    readBy: ['worker', 'npm start'],
  }),
  SMTP_FROM: variable(text().default('erasure-engine@localhost'), {
    doc: 'Sender of notification e-mails (`erasure@corp.example` or `Erasure engine <erasure@corp.example>`).',
    group: 'Notifications',
    readBy: ['worker'],
  }),
  SMTP_USER: variable(text().optional(), {
    doc: 'User name for SMTP authentication; unset sends without authenticating.',
    group: 'Notifications',
    readBy: ['worker'],
    default: 'unset: no authentication',
  }),
  SMTP_PASSWORD: variable(text().optional(), {
    doc: 'Password for SMTP authentication (with `SMTP_USER`).',
    group: 'Notifications',
    readBy: ['worker'],
    secret: true,
    withheldFromCatalog: true,
  }),
  SMTP_TLS: variable(z.enum(['auto', 'starttls', 'tls', 'none']).default('auto'), {
    doc: 'TLS to the mail server: `auto` (STARTTLS when the server offers it), `starttls` (required), `tls` (TLS from the first byte, usually port 465) or `none`.',
    group: 'Notifications',
    readBy: ['worker'],
  }),
  ENGINE_PUBLIC_URL: variable(httpUrl().default('http://localhost:3000'), {
    doc: "The API's base URL as operators reach it: the `curl` confirm commands in notifications point there.",
    group: 'Notifications',
    readBy: ['worker', 'npm start'],
    default: '`http://localhost:3000` (npm start: its API)',
  }),

  LOG_LEVEL: variable(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), {
    doc: 'Level of the structured (pino) logger: fatal, error, warn, info, debug, trace or silent.',
    group: 'Logging',
    readBy: engine,
  }),

  LOCAL_PG_PORT: variable(port().default(5433), { doc: 'Port of the PostgreSQL that `npm start` runs.', group: 'Local run (npm start)', readBy: ['npm start'] }),
  TEMPORAL_PORT: variable(port().default(7233), { doc: 'Port of the Temporal dev server that `npm start` runs.', group: 'Local run (npm start)', readBy: ['npm start'] }),
  TEMPORAL_UI_PORT: variable(port().default(8233), { doc: 'Port of its Temporal Web UI.', group: 'Local run (npm start)', readBy: ['npm start'] }),
  KAFKA_PORT: variable(port().default(9092), { doc: 'Port of the Kafka broker that `npm start` runs (its data stays in `.data/kafka`).', group: 'Local run (npm start)', readBy: ['npm start'] }),
  MAILPIT_PORT: variable(port().default(8025), {
    doc: 'Port of the web inbox and HTTP API of the mailpit that `npm start` runs (it takes mail on `SMTP_PORT`).',
    group: 'Local run (npm start)',
    readBy: ['npm start'],
  }),
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
  ERASURE_API_URL: variable(httpUrl().optional(), {
    doc: 'The engine API that `npx erasure bulk` sends bulk operator actions to, and `npx erasure system` its pauses and resumes (`--api-url` wins).',
    group: 'Command line',
    readBy: ['cli'],
    default: '`http://127.0.0.1:3000`',
  }),
  ERASURE_API_KEY: variable(text().optional(), {
    doc: 'The API key `npx erasure bulk` and `npx erasure system` present (`--api-key` wins); the actions are recorded as sent by its name, and it needs the scope of the action.',
    group: 'Command line',
    readBy: ['cli'],
    default: 'unset',
    secret: true,
  }),
});

export type ConfigVariables = z.infer<typeof configSchema>;
export type VariableName = keyof typeof configSchema.shape;
export const variableNames = Object.keys(configSchema.shape) as VariableName[];

