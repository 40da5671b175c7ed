/**
 * Secrets in production. With `NODE_ENV=production` the secrets every engine process relies on must be set,
 * and no secret may be one of the example values this repository ships (README, `.env.example`, the compose
 * file, `examples/`): anyone can read those, so a deployment that copied one has no secret at all.
 *
 * The examples are listed here once, by hand, rather than collected from the files at run time (the Docker
 * image does not even contain the README). test/config/example-secrets.test.ts scans the shipped files
 * for secret-looking values and fails when one is missing below, so the list cannot drift.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Environment } from './load';

/**
 * Every example secret the repository ships or has shipped. Add a value here when an example gains one.
 * @example exampleSecrets.includes('change-me-webhook-secret') // true
 */
export const exampleSecrets: readonly string[] = [
  // src/config/schema.ts: the development default of SUBJECT_HASH_SECRET.
  'dev-only-subject-hash-secret',
  // .env.example: SUBJECT_HASH_SECRET, and the example catalog's CUSTOMERS_HMAC_KEY and CRM_WEBHOOK_SECRET.
  'change-me-to-a-long-random-string',
  'at-least-16-characters-of-secret',
  // docker-compose.yml before it required its secrets: the webhook secret, the codec path token, MinIO's
  // root credentials (also MinIO's own well-known default) and the PostgreSQL password.
  'change-me-webhook-secret',
  'change-me-codec-token',
  'minioadmin',
  'erasure',
];

/** Whitespace and literal `\n` do not make a value another secret (a PEM on one line is the same key). */
const normalise = (value: string) => value.replace(/\\n/g, '\n').replace(/\s+/g, '');

const normalisedExamples = new Set(exampleSecrets.map(normalise));
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
/** API keys are configured by their SHA-256: the hash of an example value is as public as the value. */
const exampleKeyHashes = new Set(exampleSecrets.flatMap((v) => [sha256(v), sha256(v.trim())]).concat(exampleSecrets.filter((v) => /^[0-9a-f]{64}$/i.test(v)).map((v) => v.toLowerCase())));

/**
 * Whether a value is one of {@link exampleSecrets} (ignoring whitespace).
 * @example isExampleSecret(' change-me-codec-token\n') // true
 */
export function isExampleSecret(value: string): boolean {
  return normalisedExamples.has(normalise(value));
}

/** Whether a list of API keys (`API_KEYS` or the text of `API_KEYS_FILE`) names the hash of an example key. */
function hasExampleKeyHash(text: string): boolean {
  return [...text.matchAll(/[0-9a-f]{64}/gi)].some((m) => exampleKeyHashes.has(m[0].toLowerCase()));
}

const HOW = 'generate one with: openssl rand -hex 32';

/** The secrets without which no production process starts, each with how to make one. */
const required: { name: string; file?: string; how: string }[] = [
  { name: 'SUBJECT_HASH_SECRET', how: HOW },
  { name: 'ENGINE_MASTER_KEY', file: 'ENGINE_MASTER_KEY_FILE', how: 'generate one with: openssl rand -base64 32' },
  { name: 'SIGNING_KEY_PEM', file: 'SIGNING_KEY_FILE', how: 'generate one with: openssl genpkey -algorithm ed25519' },
];

/** The inline secrets compared with the examples; the `_FILE` variants are compared by their content. */
const inline = ['SUBJECT_HASH_SECRET', 'ENGINE_MASTER_KEY', 'SIGNING_KEY_PEM', 'CODEC_PATH_TOKEN', 'TEMPORAL_API_KEY'] as const;
/** Secrets the engine cannot generate: where a real one comes from instead. */
const issuedElsewhere: Partial<Record<(typeof inline)[number], string>> = { TEMPORAL_API_KEY: 'create one in Temporal Cloud (Settings, API keys, or: tcld apikey create)' };
const files = ['ENGINE_MASTER_KEY_FILE', 'SIGNING_KEY_FILE'] as const;

const SHIPPED = 'is an example value shipped with the engine (README, .env.example, docker-compose.yml or examples/), which anyone can read';

/** A file's text, or undefined when it cannot be read (the loader of that key reports why). */
function readQuietly(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * What stops a production process (`NODE_ENV=production`): a required secret that is unset, or any secret
 * that holds an example value. Each problem names the variable, never its value; outside production, none.
 * @example productionSecretProblems({ NODE_ENV: 'production' }) // ['SUBJECT_HASH_SECRET: is required …', …]
 */
export function productionSecretProblems(env: Environment): string[] {
  if (env.NODE_ENV !== 'production') return [];
  const value = (name: string) => (env[name]?.trim() ? env[name] : undefined);
  const problems: string[] = [];
  for (const r of required) {
    if (value(r.name) === undefined && (!r.file || value(r.file) === undefined)) {
      problems.push(`${r.name}: is required when NODE_ENV=production${r.file ? ` (or ${r.file})` : ''}; ${r.how}`);
    }
  }
  for (const name of inline) {
    const v = value(name);
    if (v !== undefined && isExampleSecret(v)) problems.push(`${name}: ${SHIPPED}; ${issuedElsewhere[name] ?? required.find((r) => r.name === name)?.how ?? HOW}`);
  }
  for (const name of files) {
    const text = value(name) && readQuietly(value(name)!.trim());
    if (text && isExampleSecret(text)) problems.push(`${name}: the file holds an example value shipped with the engine, which anyone can read; ${required.find((r) => r.file === name)?.how ?? HOW}`);
  }
  const keys = value('API_KEYS');
  if (keys && hasExampleKeyHash(keys)) problems.push('API_KEYS: names the hash of an example key shipped with the engine; generate keys with: openssl rand -hex 32');
  const keysFile = value('API_KEYS_FILE') && readQuietly(value('API_KEYS_FILE')!.trim());
  if (keysFile && hasExampleKeyHash(keysFile)) problems.push('API_KEYS_FILE: names the hash of an example key shipped with the engine; generate keys with: openssl rand -hex 32');
  return problems;
}
